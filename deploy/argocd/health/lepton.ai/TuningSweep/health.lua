-- Argo CD health check for lepton.ai/v1alpha1 TuningSweep.
--
-- A sweep has no suspension of its own: it is Progressing until it finishes, then Healthy with
-- its best trial or Degraded.
--
-- The helpers (field, text, number, show, find, is, reason_of, explain, conditions_of)
-- are in ../../prelude.lua, which deploy/argocd/generate.py puts in
-- front of this file.

-- status.progress is the operator's "finished/maxTrials"; the counts are the fallback.
local function finished_trials(obj, status)
  local progress = text(field(status, "progress"))
  if progress ~= nil then
    return progress
  end
  local trials = field(status, "trials")
  local finished = 0
  local counted = false
  local kinds = { "succeeded", "failed", "earlyStopped", "stopped" }
  for _, kind in ipairs(kinds) do
    local count = number(field(trials, kind))
    if count ~= nil then
      finished = finished + count
      counted = true
    end
  end
  local finished_text = show(finished, 1)
  if not counted or finished_text == nil then
    return nil
  end
  local max_trials = show(field(field(obj, "spec"), "maxTrials"), 1)
  if max_trials ~= nil then
    return finished_text .. "/" .. max_trials
  end
  return finished_text
end

local function best_trial(obj, status)
  local best = field(status, "bestTrial")
  local name = text(field(best, "name"))
  local value = show(field(best, "objective"), 10000)
  if name == nil or value == nil then
    return nil
  end
  local metric = text(field(field(field(obj, "spec"), "objective"), "metric")) or "objective"
  return "best " .. metric .. " " .. value .. " by " .. name
end

local function summary(obj, status, running_note)
  local message
  local finished = finished_trials(obj, status)
  if finished ~= nil then
    message = finished .. " trials finished"
    if running_note then
      local running = number(field(field(status, "trials"), "running"))
      if running ~= nil and running > 0 then
        message = message .. ", " .. show(running, 1) .. " running"
      end
    end
  end
  local best = best_trial(obj, status)
  if best ~= nil then
    if message ~= nil then
      message = message .. "; " .. best
    else
      message = best
    end
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
    return "Degraded", explain(failed, "The sweep failed")
  end
  -- Created=False means the spec cannot be run (reason InvalidSpec): it waits for an edit, and
  -- a Running condition left from before the edit must not hide that.
  local created = find(conditions, "Created")
  if is(created, "False") then
    return "Degraded", explain(created, "The sweep cannot start")
  end
  local succeeded = find(conditions, "Succeeded")
  if is(succeeded, "True") then
    local message = summary(obj, status, false)
    local reason = text(field(status, "finishReason")) or text(field(succeeded, "reason"))
    if message == nil then
      return "Healthy", explain(succeeded, "The sweep succeeded")
    end
    if reason ~= nil then
      message = reason .. ": " .. message
    end
    return "Healthy", message
  end
  local running = find(conditions, "Running")
  if is(running, "True") then
    local message = summary(obj, status, true)
    if message == nil then
      return "Progressing", explain(running, "Trials are running")
    end
    -- A finishing sweep names its finish reason on Running while its last trials stop.
    local reason = text(field(running, "reason"))
    if reason ~= nil and reason ~= "TrialsRunning" then
      message = "Finishing (" .. reason .. "): " .. message
    end
    return "Progressing", message
  end
  if is(created, "True") then
    return "Progressing", "Creating the first trials"
  end
  return "Progressing", explain(running, "Waiting for the operator to accept the sweep")
end

local health_status, message = assess(obj)
return { status = health_status, message = message }
