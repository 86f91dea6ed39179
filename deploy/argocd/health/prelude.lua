-- The helpers every Lepton health check starts with; deploy/argocd/generate.py puts this file
-- in front of each kind's health.lua, and the tests run that same text.
--
-- Argo CD runs checks configured in argocd-cm without Lua's string, math and io libraries
-- (unless useOpenLibs is set), so the scripts use only base functions: messages are built
-- with tostring and concatenation, numbers rounded with the % operator. Every field is read
-- through a type check: an unexpected status must still yield a health status, because a Lua
-- error shows as Unknown, the worst rank in an Application's health.

local function field(value, key)
  if type(value) == "table" then
    return value[key]
  end
  return nil
end

local function text(value)
  if type(value) == "string" and value ~= "" then
    return value
  end
  return nil
end

-- Argo CD passes a json.Number to Lua as a string, so numeric strings count as numbers.
-- NaN and the infinities do not: they would print differently in gopher-lua and C Lua.
local function number(value)
  local n = value
  if type(n) == "string" then
    n = tonumber(n)
  end
  if type(n) ~= "number" or n ~= n or n == 1 / 0 or n == -1 / 0 then
    return nil
  end
  return n
end

-- Rounds to 1/scale before printing, so float noise never reaches a message and gopher-lua
-- and C Lua print the same digits. A value too large to scale is left out.
local function show(value, scale)
  local n = number(value)
  local scaled = n and number(n * scale + 0.5)
  if scaled == nil then
    return nil
  end
  return tostring((scaled - scaled % 1) / scale)
end

local function find(conditions, wanted)
  for _, condition in ipairs(conditions) do
    if field(condition, "type") == wanted then
      return condition
    end
  end
  return nil
end

local function is(condition, value)
  return field(condition, "status") == value
end

local function reason_of(condition)
  return text(field(condition, "reason"))
end

local function explain(condition, fallback)
  local reason = reason_of(condition)
  local message = text(field(condition, "message"))
  if reason ~= nil and message ~= nil then
    return reason .. ": " .. message
  end
  return reason or message or fallback
end

-- Until the operator has acted on the current spec, the rest of the status describes an
-- older one.
local function unobserved_generation(obj, status)
  local generation = number(field(field(obj, "metadata"), "generation"))
  if generation == nil then
    return nil
  end
  local observed = number(field(status, "observedGeneration"))
  if observed == nil or observed < generation then
    return "Waiting for the operator to observe generation " .. show(generation, 1)
  end
  return nil
end

-- The conditions to judge and the status they are in; or, when there is nothing to judge yet,
-- nil, nil and the health to report.
local function conditions_of(obj)
  local status = field(obj, "status")
  if status == nil then
    return nil, nil, { status = "Progressing", message = "Waiting for the operator to report status" }
  end
  if type(status) ~= "table" then
    return nil, nil, { status = "Unknown", message = "status is not an object" }
  end
  local waiting = unobserved_generation(obj, status)
  if waiting ~= nil then
    return nil, nil, { status = "Progressing", message = waiting }
  end
  local conditions = field(status, "conditions")
  if conditions == nil then
    return nil, nil, { status = "Progressing", message = "Waiting for the operator to report conditions" }
  end
  if type(conditions) ~= "table" then
    return nil, nil, { status = "Unknown", message = "status.conditions is not a list" }
  end
  return conditions, status, nil
end
