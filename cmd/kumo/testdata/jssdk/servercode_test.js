// Calls a Kumo server's server code with Kii's JavaScript SDK (npm
// kii-cloud-sdk), as an app does: Kii.serverCodeEntry(...).execute. Run
// by cmd/kumo's TestJSSDKServerCode, which deploys the script of
// servercode_script.js first, with KUMO_URL, KUMO_APP_ID, KUMO_APP_KEY and
// KUMO_VERSION_ID (the deployed version, also current). Each step prints
// "ok <name>" or "FAIL <name>: <why>"; the process exits 1 when one failed.
"use strict";
const assert = require("assert");
const sdk = require("kii-cloud-sdk").create();
const {Kii, KiiUser, KiiServerCodeEnvironmentVersion} = sdk;

Kii.initializeWithSite(process.env.KUMO_APP_ID, process.env.KUMO_APP_KEY, process.env.KUMO_URL + "/api");

let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    console.log("ok " + name);
  } catch (e) {
    failed++;
    console.log("FAIL " + name + ": " + (e && (e.stack || e.message) || e));
  }
}

const suffix = Date.now().toString(36);

(async () => {
  await step("anonymous call: returnedValue, steps, environment", async () => {
    const [entry, argument, result] = await Kii.serverCodeEntry("echo").execute({message: "hello!"});
    assert.strictEqual(entry.getEntryName(), "echo");
    assert.deepStrictEqual(argument, {message: "hello!"});
    assert.deepStrictEqual(result.getReturnedValue(), {returnedValue: "hello!"});
    assert.ok(result.getExecutedSteps() >= 1, "no X-Step-count: " + result.getExecutedSteps());
    assert.strictEqual(result.getEnvironmentVersion(), "0");
  });

  await step("no argument: params is {}", async () => {
    const [, , result] = await Kii.serverCodeEntry("keys").execute(null);
    assert.deepStrictEqual(result.getReturnedValue(), {returnedValue: []});
  });

  await step("callbacks form", async () => {
    const value = await new Promise((resolve, reject) => {
      Kii.serverCodeEntry("echo").execute({message: 42}, {
        success: (entry, argument, result) => resolve(result.getReturnedValue().returnedValue),
        failure: (entry, argument, result, error) => reject(new Error(error)),
      });
    });
    assert.strictEqual(value, 42);
  });

  await step("explicit version and environment 6", async () => {
    const entry = Kii.serverCodeEntry("echo", process.env.KUMO_VERSION_ID, KiiServerCodeEnvironmentVersion.V6);
    const [, , result] = await entry.execute({message: "v6"});
    assert.strictEqual(result.getReturnedValue().returnedValue, "v6");
    assert.strictEqual(result.getEnvironmentVersion(), "6");
  });

  await step("anonymous caller has no token", async () => {
    const [, , result] = await Kii.serverCodeEntry("whoami").execute(null);
    assert.strictEqual(result.getReturnedValue().returnedValue, null);
  });

  await step("a logged-in user's token reaches the code, which acts as that user", async () => {
    const login = "sc-" + suffix;
    const user = await KiiUser.userWithUsername(login, "secret-" + suffix).register();
    const [, , result] = await Kii.serverCodeEntry("whoami").execute(null);
    assert.strictEqual(result.getReturnedValue().returnedValue, user.getID());
    const [, , saved] = await Kii.serverCodeEntry("saveNote").execute({text: "from server code"});
    const objectID = saved.getReturnedValue().returnedValue;
    assert.ok(objectID, "no object ID returned");
    const o = sdk.KiiObject.objectWithURI("kiicloud://users/" + user.getID() + "/buckets/notes/objects/" + objectID);
    await o.refresh();
    assert.strictEqual(o.get("text"), "from server code");
    KiiUser.logOut();
  });

  await step("asynchronous endpoint (done)", async () => {
    const [, , result] = await Kii.serverCodeEntry("later").execute({n: 2});
    assert.strictEqual(result.getReturnedValue().returnedValue, 4);
  });

  await step("an exception rejects with Kii's error string", async () => {
    let err;
    try {
      await Kii.serverCodeEntry("fails").execute({why: "test"});
    } catch (e) {
      err = e;
    }
    assert.ok(err, "the call succeeded");
    assert.ok(/statusCode: 400/.test(err.message), err.message);
    assert.ok(/ENDPOINT_INVOCATION_ERROR/.test(err.message), err.message);
    assert.ok(/detailMessage: .*broken on purpose/.test(err.message), err.message);
  });

  await step("an unknown version is refused", async () => {
    let err;
    try {
      await Kii.serverCodeEntry("echo", "nosuchversion0000000000000").execute({x: 1});
    } catch (e) {
      err = e;
    }
    assert.ok(err && /statusCode: 404/.test(err.message), err && err.message);
  });

  console.log(failed ? failed + " steps failed" : "all steps passed");
  process.exit(failed ? 1 : 0);
})();
