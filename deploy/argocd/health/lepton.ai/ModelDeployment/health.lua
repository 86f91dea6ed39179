-- Argo CD health check for lepton.ai/v1alpha1 ModelDeployment.
--
-- Healthy means what Argo CD means for a Deployment: the desired model is served and the
-- rollout to it is complete. The operator's own Degraded condition (drift, latency SLO, error
-- rate, CUDA fallback) is passed on as Degraded: it is the operator's judgement against the
-- thresholds in spec.monitoring.
--
-- The helpers (field, text, number, show, find, is, reason_of, explain, conditions_of)
-- are in ../../prelude.lua, which deploy/argocd/generate.py puts in
-- front of this file.

-- ModelLoaded=False reasons that no amount of waiting fixes: the operator's phase is Failed.
local PERMANENT_LOAD_FAILURES = {
  ModelUnavailable = true,
  UnsupportedSource = true,
  DigestMismatch = true,
  UnknownNodePool = true,
  InvalidSpec = true,
}

-- Ready=False carries a serving pod's own waiting reason. These need a new image, secret or
-- spec; Unschedulable and ReplicasUnavailable can resolve by themselves (a node is added,
-- a pod starts) and stay Progressing.
local POD_FAILURES = {
  CrashLoopBackOff = true,
  ImagePullBackOff = true,
  ErrImagePull = true,
  InvalidImageName = true,
  CreateContainerConfigError = true,
  CreateContainerError = true,
}

local function serving(status, ready)
  local source = text(field(field(status, "model"), "source"))
  if source == nil then
    return explain(ready, "Serving")
  end
  local message = "Serving " .. source
  local ready_replicas = show(field(status, "readyReplicas"), 1)
  local replicas = show(field(status, "replicas"), 1)
  if ready_replicas ~= nil and replicas ~= nil then
    message = message .. " on " .. ready_replicas .. "/" .. replicas .. " replicas"
  end
  local canary = field(status, "canary")
  local canary_source = text(field(field(canary, "model"), "source"))
  local share = show(field(canary, "trafficPercent"), 1)
  if canary_source ~= nil and share ~= nil then
    message = message .. "; canary " .. canary_source .. " gets " .. share .. "% of requests"
  end
  return message
end

-- spec.replicas 0 (without autoscaling, which never goes below one pod) is a deliberate pause.
local function scaled_to_zero(obj)
  local spec = field(obj, "spec")
  return field(spec, "autoscaling") == nil and number(field(spec, "replicas")) == 0
end

local function assess(obj)
  local conditions, status, early = conditions_of(obj)
  if early ~= nil then
    return early.status, early.message
  end

  -- Checked before Ready: old pods may still serve the previous model, but the desired one
  -- will never load.
  local loaded = find(conditions, "ModelLoaded")
  local load_reason = reason_of(loaded)
  if is(loaded, "False") and load_reason ~= nil and PERMANENT_LOAD_FAILURES[load_reason] then
    return "Degraded", explain(loaded, "The model cannot be loaded")
  end
  local degraded = find(conditions, "Degraded")
  if is(degraded, "True") then
    return "Degraded", explain(degraded, "Serving outside spec.monitoring's bounds")
  end
  local ready = find(conditions, "Ready")
  local ready_reason = reason_of(ready)
  if is(ready, "False") and ready_reason ~= nil and POD_FAILURES[ready_reason] then
    return "Degraded", explain(ready, "The serving pods cannot start")
  end
  if is(ready, "True") then
    -- Like a Deployment mid-rollout: the endpoint answers, but not yet as the spec asks.
    if is(loaded, "False") then
      return "Progressing", explain(loaded, "Loading the model")
    end
    local rollout = find(conditions, "RolloutComplete")
    if is(rollout, "False") then
      return "Progressing", explain(rollout, "Rolling out")
    end
    return "Healthy", serving(status, ready)
  end
  if scaled_to_zero(obj) then
    return "Suspended", "Scaled to zero (spec.replicas is 0)"
  end
  -- Most specific first: the model source, then a pod's own reason, then the counts.
  if is(loaded, "False") and load_reason == "WaitingForModel" then
    return "Progressing", explain(loaded, "Waiting for the model")
  end
  if is(ready, "False") and ready_reason ~= "ReplicasUnavailable" then
    return "Progressing", explain(ready, "Waiting for a serving pod")
  end
  if is(loaded, "False") then
    return "Progressing", explain(loaded, "Loading the model")
  end
  return "Progressing", explain(ready, "Waiting for a serving pod")
end

local health_status, message = assess(obj)
return { status = health_status, message = message }
