-- Who registered a thing (kumo.Principal key: "thing:{id}", "user:{id}";
-- '' for the admin, an anonymous registration, onboarding or a thing
-- registered before this column): a gateway may make an ownerless thing
-- its end node only when it registered it itself (GatewayService.mayTake).
ALTER TABLE things ADD COLUMN registrar TEXT NOT NULL DEFAULT '';
