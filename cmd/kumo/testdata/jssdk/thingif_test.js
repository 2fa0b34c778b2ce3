// Drives a Kumo server's Thing-IF API from the owner's side with Kii's
// Thing-IF JavaScript SDK (npm thing-if), as an owner's app would; the
// user logs in with Kii's JavaScript SDK (npm kii-cloud-sdk). Run by
// cmd/kumo's TestThingIFSDK with KUMO_URL (the server's base URL),
// KUMO_APP_ID and KUMO_APP_KEY.
//
// The thing's side is the Go test: when a step needs the thing to act,
// the script prints "ASK <what> <JSON>" and waits for a line on stdin,
// "OK" (optionally followed by JSON) or "ERR <why>". The thing executes
// every command it receives over MQTT: it uploads the state the actions
// lead to, then its action results (so a DONE command's state is there). Each step prints "ok <name>" or "FAIL <name>: <why>";
// "SKIP <name>: <why>" when KUMO_THINGIF_SKIP names the step's feature.
"use strict";
const assert = require("assert");
const readline = require("readline");
const kii = require("kii-cloud-sdk").create();
const ThingIF = require("thing-if");

const base = process.env.KUMO_URL;
const appID = process.env.KUMO_APP_ID;
const appKey = process.env.KUMO_APP_KEY;
// Features the server under test lacks: their steps are skipped, and the
// Go test says so.
const missing = (process.env.KUMO_THINGIF_SKIP || "").split(",").filter(Boolean);
kii.Kii.initializeWithSite(appID, appKey, base + "/api");

const alias = "AirConditionerAlias";
const thingType = "MyAirConditioner";

let failed = 0;
let skipped = 0;
// step runs fn as the step name; feature names what it needs of the server.
async function step(name, feature, fn) {
  if (missing.includes(feature)) {
    skipped++;
    console.log("SKIP " + name + ": needs " + feature);
    return;
  }
  try {
    await fn();
    console.log("ok " + name);
  } catch (e) {
    failed++;
    console.log("FAIL " + name + ": " + describe(e));
  }
}

// describe says what an error is, with the server's answer when there is one.
function describe(e) {
  if (!e) return String(e);
  let s = e.stack || e.message || String(e);
  if (e.status) s = "HTTP " + e.status + " " + (e.body && e.body.body || "") + " " + s;
  return s;
}

// errorOf returns the error a promise rejects with (or fails).
async function errorOf(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("the call succeeded; an error was expected");
}

// eventually calls fn until it stops throwing, for up to 10 seconds.
async function eventually(what, fn) {
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) {
        throw new Error("timed out waiting for " + what + ": " + describe(e));
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// The lines the Go test (the thing) sends on stdin.
const lines = [];
let waiter = null;
readline.createInterface({input: process.stdin}).on("line", (l) => {
  if (waiter) {
    const w = waiter;
    waiter = null;
    w(l);
  } else {
    lines.push(l);
  }
});
function nextLine() {
  return lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => (waiter = r));
}

// ask asks the thing's side to act and returns the JSON of its answer.
async function ask(what, arg) {
  console.log("ASK " + what + " " + JSON.stringify(arg));
  const answer = await nextLine();
  if (!answer.startsWith("OK")) throw new Error("the thing's side: " + answer);
  const rest = answer.slice(2).trim();
  return rest ? JSON.parse(rest) : undefined;
}

const suffix = Date.now().toString(36);
const vendorThingID = "ac-" + suffix;

(async () => {
  let user, owner, api, thing, firstCommand, trigger;
  const app = new ThingIF.App(appID, appKey, base);

  await step("owner signs up and logs in (kii-cloud-sdk)", "users", async () => {
    await kii.KiiUser.userWithUsername("owner-" + suffix, "owner-pass").register();
    user = await kii.KiiUser.authenticate("owner-" + suffix, "owner-pass");
    owner = new ThingIF.TypedID(ThingIF.Types.User, user.getID());
    api = new ThingIF.ThingIFAPI(owner, user.getAccessToken(), app);
  });

  await step("onboard a thing by vendor thing ID as its owner", "onboarding", async () => {
    const req = new ThingIF.OnboardWithVendorThingIDRequest(vendorThingID, "thing-pass", owner, thingType, "v1",
      {_vendor: "acme", color: "white"}, ThingIF.LayoutPosition.STANDALONE);
    const res = await api.onboardWithVendorThingID(req);
    assert.ok(res.thingID, "no thingID");
    assert.ok(res.accessToken, "no accessToken");
    const ep = res.mqttEndPoint; // the SDK's spelling of the answer's mqttEndpoint
    for (const k of ["installationID", "host", "mqttTopic", "username", "password"]) {
      assert.ok(ep && typeof ep[k] === "string" && ep[k], "mqttEndpoint." + k + " missing: " + JSON.stringify(ep));
    }
    for (const k of ["portTCP", "portSSL", "portWS", "portWSS", "ttl"]) {
      assert.strictEqual(typeof ep[k], "number", "mqttEndpoint." + k + " is not a number: " + JSON.stringify(ep));
    }
    assert.strictEqual(api.target.toString(), "thing:" + res.thingID);
    thing = res;
  });

  await step("onboard the same thing again by thing ID", "onboarding", async () => {
    const res = await api.onboardWithThingID(new ThingIF.OnboardWithThingIDRequest(thing.thingID, "thing-pass", owner));
    assert.strictEqual(res.thingID, thing.thingID);
    assert.strictEqual(res.mqttEndPoint.mqttTopic, thing.mqttEndPoint.mqttTopic);
  });

  if (!thing) {
    console.log("FAIL the remaining steps: no thing was onboarded");
    process.exit(1);
  }

  await step("the thing connects over MQTT with the onboarding's endpoint", "onboarding", async () => {
    await ask("thing", {thingID: thing.thingID, accessToken: thing.accessToken, mqttEndpoint: thing.mqttEndPoint});
  });

  await step("the thing uploads its first state", "states", async () => {
    await ask("state", {[alias]: {power: false, presetTemperature: 20, currentTemperature: 28}});
  });

  await step("read the vendor thing ID", "onboarding", async () => {
    assert.strictEqual(await api.getVendorThingID(), vendorThingID);
  });

  await step("thing type and firmware version", "thing-info", async () => {
    assert.strictEqual(await api.getThingType(), thingType);
    assert.strictEqual(await api.getFirmwareVersion(), "v1");
    await api.updateFirmwareVersion("v2");
    assert.strictEqual(await api.getFirmwareVersion(), "v2");
  });

  await step("read the state and a state by alias", "states", async () => {
    const st = await api.getState();
    assert.deepStrictEqual(st, {[alias]: {power: false, presetTemperature: 20, currentTemperature: 28}});
    const one = await api.getState(alias);
    assert.deepStrictEqual(one, {power: false, presetTemperature: 20, currentTemperature: 28});
  });

  const actions = [new ThingIF.AliasAction(alias, [new ThingIF.Action("turnPower", true), new ThingIF.Action("setPresetTemperature", 25)])];

  await step("post a command; the thing gets it over MQTT and answers", "commands", async () => {
    const cmd = await api.postNewCommand(new ThingIF.PostCommandRequest(actions, owner, "cool", "cool the room", {by: "sdk"}));
    assert.ok(cmd.commandID, "no commandID");
    firstCommand = await eventually("the command's results", async () => {
      const c = await api.getCommand(cmd.commandID);
      assert.strictEqual(c.commandState, "DONE", "commandState " + c.commandState);
      return c;
    });
    assert.strictEqual(firstCommand.commandID, cmd.commandID);
    assert.strictEqual(firstCommand.targetID.toString(), "thing:" + thing.thingID);
    assert.strictEqual(firstCommand.issuerID.toString(), "user:" + user.getID());
    assert.strictEqual(firstCommand.title, "cool");
    assert.strictEqual(firstCommand.description, "cool the room");
    assert.deepStrictEqual(firstCommand.metadata, {by: "sdk"});
    assert.deepStrictEqual(JSON.parse(JSON.stringify(firstCommand.aliasActions)), JSON.parse(JSON.stringify(actions)));
    const results = firstCommand.aliasActionResults;
    assert.ok(Array.isArray(results) && results.length === 1 && results[0].alias === alias, "aliasActionResults " + JSON.stringify(results));
    assert.deepStrictEqual(results[0].actionResults.map((r) => [r.actionName, r.succeeded]), [["turnPower", true], ["setPresetTemperature", true]]);
    assert.ok(firstCommand.created instanceof Date && firstCommand.created.getTime() > 0, "no createdAt");
    assert.ok(firstCommand.modified instanceof Date && firstCommand.modified.getTime() >= firstCommand.created.getTime(), "no modifiedAt");
  });

  await step("the thing's state after the command", "states", async () => {
    const st = await api.getState(alias);
    assert.strictEqual(st.power, true);
    assert.strictEqual(st.presetTemperature, 25);
  });

  await step("list commands page by page", "commands", async () => {
    const second = await api.postNewCommand(new ThingIF.PostCommandRequest(
      [new ThingIF.AliasAction(alias, [new ThingIF.Action("turnPower", false)])], owner));
    await eventually("the second command's results", async () => {
      assert.strictEqual((await api.getCommand(second.commandID)).commandState, "DONE");
    });
    const seen = [];
    let key;
    for (let page = 0; page < 10; page++) {
      const res = await api.listCommands(new ThingIF.ListQueryOptions(1, key));
      assert.ok(res.results.length <= 1, "bestEffortLimit 1 gave " + res.results.length);
      for (const c of res.results) seen.push(c.commandID);
      key = res.paginationKey;
      if (!key) break;
    }
    assert.deepStrictEqual(seen.slice().sort(), [firstCommand.commandID, second.commandID].sort());
    const all = await api.listCommands();
    assert.strictEqual(all.results.length, 2);
    assert.ok(!all.paginationKey, "a pagination key after the last page: " + all.paginationKey);
  });

  await step("a command with an alias the thing type does not have is refused", "command-alias-check", async () => {
    const e = await errorOf(api.postNewCommand(new ThingIF.PostCommandRequest(
      [new ThingIF.AliasAction("NoSuchAlias", [new ThingIF.Action("turnPower", true)])], owner)));
    assert.ok(e.status >= 400 && e.status < 500 && e.body && e.body.errorCode, "status " + e.status);
  });

  await step("the owner's phone installs for FCM push and uninstalls", "installations", async () => {
    const id = await api.installFCM("fcm-token-" + suffix, true);
    assert.ok(id, "no installationID");
    await api.uninstallPush(id);
  });

  await step("a stranger cannot command the thing", "commands", async () => {
    await kii.KiiUser.userWithUsername("stranger-" + suffix, "stranger-pass").register();
    const s = await kii.KiiUser.authenticate("stranger-" + suffix, "stranger-pass");
    const stranger = new ThingIF.TypedID(ThingIF.Types.User, s.getID());
    const sapi = new ThingIF.ThingIFAPI(stranger, s.getAccessToken(), app, api.target);
    const e = await errorOf(sapi.postNewCommand(new ThingIF.PostCommandRequest(actions, stranger)));
    // Kumo answers 401 UNAUTHORIZED, its code for a forbidden action
    // (docs/compat.md, "Who may command").
    assert.ok([401, 403, 404].includes(e.status), "status " + e.status);
    assert.ok(e.body && e.body.errorCode, "no errorCode in the refusal");
    const e2 = await errorOf(sapi.getCommand(firstCommand.commandID));
    assert.ok([401, 403, 404].includes(e2.status), "get: status " + e2.status);
  });

  const condition = new ThingIF.Condition(new ThingIF.RangeClauseInTrigger(alias, "currentTemperature", null, null, 30, true));

  await step("create, read and list a state trigger", "triggers", async () => {
    const cmd = new ThingIF.TriggerCommandObject(
      [new ThingIF.AliasAction(alias, [new ThingIF.Action("turnPower", true)])], api.target, owner, "fired");
    trigger = await api.postCommandTrigger(new ThingIF.PostCommandTriggerRequest(cmd,
      new ThingIF.StatePredicate(condition, ThingIF.TriggersWhen.CONDITION_FALSE_TO_TRUE), "too hot", "cool down", {n: 1}));
    assert.ok(trigger.triggerID, "no triggerID");
    const got = await api.getTrigger(trigger.triggerID);
    assert.strictEqual(got.triggerID, trigger.triggerID);
    assert.strictEqual(got.disabled, false);
    assert.strictEqual(got.title, "too hot");
    assert.strictEqual(got.description, "cool down");
    assert.deepStrictEqual(got.metadata, {n: 1});
    assert.strictEqual(got.predicate.getEventSource(), ThingIF.EventSource.STATES);
    assert.strictEqual(got.predicate.triggersWhen, "CONDITION_FALSE_TO_TRUE");
    const clause = got.predicate.condition.clause;
    assert.ok(clause instanceof ThingIF.RangeClauseInTrigger, "clause " + JSON.stringify(clause));
    assert.strictEqual(clause.alias, alias);
    assert.strictEqual(clause.field, "currentTemperature");
    assert.strictEqual(clause.lowerLimit, 30);
    assert.strictEqual(clause.lowerIncluded, true);
    assert.ok(got.command, "no command in the trigger");
    assert.strictEqual(got.command.targetID.toString(), api.target.toString());
    assert.strictEqual(got.command.issuerID.toString(), owner.toString());
    assert.strictEqual(got.command.title, "fired");
    const list = await api.listTriggers();
    assert.deepStrictEqual(list.results.map((t) => t.triggerID), [trigger.triggerID]);
  });

  await step("the trigger fires a command when the state crosses it", "triggers", async () => {
    await ask("state", {[alias]: {power: true, presetTemperature: 25, currentTemperature: 35}});
    const fired = await eventually("the fired command", async () => {
      const res = await api.listCommands();
      const f = res.results.filter((c) => c.firedByTriggerID === trigger.triggerID);
      assert.strictEqual(f.length, 1, "commands fired by the trigger: " + f.length);
      return f[0];
    });
    assert.strictEqual(fired.title, "fired");
    assert.strictEqual(fired.issuerID.toString(), owner.toString());
    await eventually("the fired command's results", async () => {
      assert.strictEqual((await api.getCommand(fired.commandID)).commandState, "DONE");
    });
  });

  await step("disable, enable and patch the trigger", "triggers", async () => {
    let t = await api.enableTrigger(trigger.triggerID, false);
    assert.strictEqual(t.disabled, true);
    t = await api.enableTrigger(trigger.triggerID, true);
    assert.strictEqual(t.disabled, false);
    // ThingIFAPI.patchCommandTrigger needs a command (it sets its issuer).
    const cmd = new ThingIF.TriggerCommandObject(
      [new ThingIF.AliasAction(alias, [new ThingIF.Action("setPresetTemperature", 22)])], api.target, owner, "fired again");
    t = await api.patchCommandTrigger(trigger.triggerID, new ThingIF.PatchCommandTriggerRequest(cmd, undefined, "very hot"));
    assert.strictEqual(t.title, "very hot");
    const got = await api.getTrigger(trigger.triggerID);
    assert.strictEqual(got.title, "very hot");
    assert.strictEqual(got.command.title, "fired again");
    assert.deepStrictEqual(JSON.parse(JSON.stringify(got.command.aliasActions)), JSON.parse(JSON.stringify(cmd.aliasActions)));
    assert.strictEqual(got.predicate.getEventSource(), ThingIF.EventSource.STATES, "the predicate changed");
  });

  await step("schedule triggers: create, list, delete", "triggers", async () => {
    const cmd = new ThingIF.TriggerCommandObject(
      [new ThingIF.AliasAction(alias, [new ThingIF.Action("turnPower", false)])], api.target, owner);
    const cron = await api.postCommandTrigger(new ThingIF.PostCommandTriggerRequest(cmd, new ThingIF.SchedulePredicate("0 3 * * *")));
    const once = await api.postCommandTrigger(new ThingIF.PostCommandTriggerRequest(cmd,
      new ThingIF.ScheduleOncePredicate(Date.now() + 24 * 3600 * 1000)));
    const got = await api.getTrigger(cron.triggerID);
    assert.strictEqual(got.predicate.schedule, "0 3 * * *");
    assert.strictEqual((await api.getTrigger(once.triggerID)).predicate.getEventSource(), ThingIF.EventSource.SCHEDULE_ONCE);
    const ids = (await api.listTriggers()).results.map((t) => t.triggerID).sort();
    assert.deepStrictEqual(ids, [trigger.triggerID, cron.triggerID, once.triggerID].sort());
    assert.strictEqual(await api.deleteTrigger(cron.triggerID), cron.triggerID);
    assert.strictEqual(await api.deleteTrigger(once.triggerID), once.triggerID);
  });

  await step("delete the state trigger", "triggers", async () => {
    assert.strictEqual(await api.deleteTrigger(trigger.triggerID), trigger.triggerID);
    const e = await errorOf(api.getTrigger(trigger.triggerID));
    assert.strictEqual(e.status, 404);
    assert.deepStrictEqual((await api.listTriggers()).results, []);
  });

  await step("query the state history", "state-history", async () => {
    await ask("state", {[alias]: {power: true, presetTemperature: 25, currentTemperature: 33}});
    const res = await api.query(new ThingIF.QueryHistoryStatesRequest(alias, new ThingIF.AllClause()));
    const temps = res.results.map((h) => h.state.currentTemperature);
    assert.ok(temps.includes(28) && temps.includes(33), "history temperatures " + JSON.stringify(temps));
    for (const h of res.results) {
      assert.ok(h.createdAt instanceof Date && h.createdAt.getTime() > 0, "no _created in " + JSON.stringify(h));
    }
    const hot = await api.query(new ThingIF.QueryHistoryStatesRequest(alias,
      new ThingIF.RangeClauseInQuery("currentTemperature", null, null, 30, true)));
    const hotTemps = hot.results.map((h) => h.state.currentTemperature);
    assert.ok(hotTemps.includes(33) && hotTemps.every((t) => t >= 30), "temperatures >= 30: " + JSON.stringify(hotTemps));
    const one = await api.query(new ThingIF.QueryHistoryStatesRequest(alias, new ThingIF.AllClause(), undefined, 1));
    assert.strictEqual(one.results.length, 1);
    assert.ok(one.paginationKey, "no nextPaginationKey with bestEffortLimit 1");
  });

  await step("grouped query and aggregation of the state history", "state-history", async () => {
    const range = new ThingIF.TimeRange(new Date(Date.now() - 3600 * 1000), new Date(Date.now() + 60 * 1000));
    const groups = await api.groupedQuery(new ThingIF.QueryGroupedHistoryStatesRequest(alias, range));
    const n = groups.reduce((s, g) => s + g.states.length, 0);
    assert.ok(n >= 2, "grouped states " + n);
    const agg = await api.aggregate(new ThingIF.AggregateGroupedHistoryStatesRequest(
      new ThingIF.QueryGroupedHistoryStatesRequest(alias, range),
      new ThingIF.Aggregation(ThingIF.FunctionType.MAX, "currentTemperature", ThingIF.FieldType.INTEGER)));
    const max = Math.max(...agg.filter((a) => a.value !== undefined && a.value !== null).map((a) => a.value));
    // 35 when the trigger step wrote it, else 33.
    assert.strictEqual(max, missing.includes("triggers") ? 33 : 35);
  });

  console.log(failed === 0 ? "all steps passed (" + skipped + " skipped)" : failed + " steps failed");
  process.exit(failed === 0 ? 0 : 1);
})();
