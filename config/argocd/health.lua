-- Argo CD health check for the contactsync kinds (ProviderConfig, ClusterProviderConfig,
-- ContactAccess, DelegatedGrant). It reads the same conditions kstatus reads:
--   Stalled=True                      -> Degraded   (a person must act; the message says what)
--   Reconciling=True, or status older
--   than the spec, or Ready not True  -> Progressing
--   Ready=True for this generation    -> Healthy
local hs = {}
local function find(conds, t)
  if conds == nil then return nil end
  for _, c in ipairs(conds) do
    if c.type == t then return c end
  end
  return nil
end
local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then generation = obj.metadata.generation end
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for contactsync to reconcile the object"
  return hs
end
if obj.status.observedGeneration == nil or obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for contactsync to observe the latest spec"
  return hs
end
local conds = obj.status.conditions
local stalled = find(conds, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "Stalled") .. ": " .. (stalled.message or "")
  return hs
end
local reconciling = find(conds, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = (reconciling.reason or "Reconciling") .. ": " .. (reconciling.message or "")
  return hs
end
local ready = find(conds, "Ready")
if ready ~= nil and ready.status == "True" and (ready.observedGeneration == nil or ready.observedGeneration >= generation) then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
hs.status = "Progressing"
if ready ~= nil then
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
else
  hs.message = "Waiting for the Ready condition"
end
return hs
