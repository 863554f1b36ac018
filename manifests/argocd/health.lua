-- Argo CD's health of an appmod.io/AppModernization, read the way kstatus reads it
-- (https://github.com/kubernetes-sigs/cli-utils/blob/master/pkg/kstatus/README.md): the operator has not
-- seen the latest spec yet -> Progressing; Stalled=True -> Degraded; Ready=True -> Healthy; anything else
-- -> Progressing. Each carries the deciding condition's message.
local function condition(conditions, wanted)
  for _, c in ipairs(conditions or {}) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local status = obj.status or {}
local generation = obj.metadata and obj.metadata.generation
if status.observedGeneration == nil or (generation ~= nil and status.observedGeneration < generation) then
  return {status = "Progressing",
          message = "Waiting for the operator to observe generation " .. tostring(generation or 1)}
end
local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = stalled.message or stalled.reason or "Stalled"}
end
local ready = condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  return {status = "Healthy", message = ready.message or "Ready"}
end
local reconciling = condition(status.conditions, "Reconciling")
local why = (ready and ready.message) or (reconciling and reconciling.message) or "Waiting for Ready"
return {status = "Progressing", message = why}
