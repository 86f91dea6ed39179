-- Argo CD health check for lepton.ai/v1alpha1 TrainingJob.
--
-- The conditions decide, in the order the operator derives status.phase from them.
--
-- The helpers (field, text, number, show, find, is, reason_of, explain, conditions_of)
-- are in ../../prelude.lua, which deploy/argocd/generate.py puts in
-- front of this file.

-- A trial stopped by its TuningSweep, by the early-stopping rule or because the sweep
-- finished, is an outcome the sweep intended; anyone else's stop leaves the job without a
-- model until it is recreated.
local SWEEP_STOP_REASONS = { EarlyStopped = true, StoppedBySweep = true }

-- The runner reports epochs for linear models and MLPs, and trees for gradient boosting.
local function training_progress(obj, status)
  local progress = field(status, "progress")
  local step = show(field(progress, "step"), 1)
  if step == nil then
    return nil
  end
  local total = show(field(progress, "totalSteps"), 1)
  if total ~= nil then
    step = step .. "/" .. total
  end
  local family = text(field(progress, "family"))
  local message
  if family == "gbdt" then
    message = "Training gbdt: " .. step .. " trees"
  elseif family ~= nil then
    message = "Training " .. family .. ": epoch " .. step
  else
    message = "Training: step " .. step
  end
  local metric = text(field(field(field(obj, "spec"), "model"), "metric"))
  if metric ~= nil then
    local value = show(field(field(progress, "metrics"), metric), 10000)
    if value ~= nil then
      message = message .. ", " .. metric .. " " .. value
    end
  end
  return message
end

local function training_result(status, succeeded)
  local objective = field(status, "objective")
  local metric = text(field(objective, "metric"))
  local value = show(field(objective, "value"), 10000)
  if metric == nil or value == nil then
    return text(field(succeeded, "message")) or "Training succeeded"
  end
  local message = metric .. " " .. value
  local family = text(field(field(status, "model"), "family"))
  if family ~= nil then
    message = message .. ", model " .. family
  end
  return message
end

local function assess(obj)
  local conditions, status, early = conditions_of(obj)
  if early ~= nil then
    return early.status, early.message
  end

  local failed = find(conditions, "Failed")
  if is(failed, "True") then
    return "Degraded", explain(failed, "Training failed")
  end
  local succeeded = find(conditions, "Succeeded")
  if is(succeeded, "True") then
    return "Healthy", training_result(status, succeeded)
  end
  local stopped = find(conditions, "Stopped")
  if is(stopped, "True") then
    local reason = text(field(stopped, "reason"))
    if reason ~= nil and SWEEP_STOP_REASONS[reason] then
      return "Healthy", explain(stopped, "Stopped by its TuningSweep")
    end
    return "Suspended", explain(stopped, "Stopped on request")
  end
  -- The operator writes Created=False only for what a spec or configuration change must fix:
  -- an unknown node pool, an invalid spec, or a Job of the same name that is not its own.
  local created = find(conditions, "Created")
  if is(created, "False") then
    return "Degraded", explain(created, "The training Job cannot be created")
  end
  -- A Kueue queue admits the job by itself; only a suspension in the spec waits for a person.
  local suspended = find(conditions, "Suspended")
  if is(suspended, "True") then
    if field(suspended, "reason") == "Queued" then
      return "Progressing", explain(suspended, "Waiting in a queue")
    end
    return "Suspended", explain(suspended, "Suspended")
  end
  local running = find(conditions, "Running")
  if is(running, "True") then
    return "Progressing", training_progress(obj, status) or explain(running, "Training")
  end
  return "Progressing", explain(running, "Waiting for the training pod to start")
end

local health_status, message = assess(obj)
return { status = health_status, message = message }
