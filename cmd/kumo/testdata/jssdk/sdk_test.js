// Drives a Kumo server with Kii's JavaScript SDK (npm kii-cloud-sdk), as
// an app would. Run by cmd/kumo's TestJSSDK with KUMO_URL (the server's
// base URL), KUMO_APP_ID and KUMO_APP_KEY. Each step prints "ok <name>"
// or "FAIL <name>: <why>"; the process exits 1 when a step failed.
"use strict";
const assert = require("assert");
const sdk = require("kii-cloud-sdk").create();
const {Kii, KiiUser, KiiQuery, KiiClause, KiiACLEntry, KiiACLAction, KiiAnyAuthenticatedUser, KiiAnonymousUser} = sdk;

const base = process.env.KUMO_URL + "/api";
Kii.initializeWithSite(process.env.KUMO_APP_ID, process.env.KUMO_APP_KEY, base);

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

// errorOf returns the error a promise rejects with (or fails).
async function errorOf(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("the call succeeded; an error was expected");
}

const suffix = Date.now().toString(36);
const login = "js-" + suffix;
const password = "secret-" + suffix;

(async () => {
  let user, userBucket, appBucket, userObject;

  await step("sign up", async () => {
    const u = KiiUser.userWithUsername(login, password);
    u.set("favorite", "tea");
    user = await u.register();
    assert.ok(user.getID(), "no user ID after register");
    assert.ok(user.getAccessToken(), "no access token after register");
  });

  await step("log in", async () => {
    user = await KiiUser.authenticate(login, password);
    assert.strictEqual(user.getUsername(), login);
    assert.ok(KiiUser.getCurrentUser(), "no current user after login");
  });

  await step("wrong password is refused", async () => {
    const e = await errorOf(KiiUser.authenticate(login, "wrong-password"));
    assert.ok(e instanceof Error);
    user = await KiiUser.authenticate(login, password); // the current user again
  });

  await step("read own user record", async () => {
    const me = await KiiUser.getCurrentUser().refresh();
    assert.strictEqual(me.get("favorite"), "tea");
  });

  await step("user scope: create object", async () => {
    userBucket = KiiUser.getCurrentUser().bucketWithName("notes");
    const o = userBucket.createObject();
    o.set("title", "first");
    o.set("n", 1);
    userObject = await o.save();
    assert.ok(userObject.getUUID(), "no object ID");
    assert.ok(userObject.getCreated() > 0, "no _created");
  });

  await step("user scope: read object", async () => {
    const o = sdk.KiiObject.objectWithURI(userObject.objectURI());
    await o.refresh();
    assert.strictEqual(o.get("title"), "first");
    assert.strictEqual(o.get("n"), 1);
  });

  await step("user scope: update object", async () => {
    userObject.set("title", "second");
    await userObject.save();
    const o = sdk.KiiObject.objectWithURI(userObject.objectURI());
    await o.refresh();
    assert.strictEqual(o.get("title"), "second");
    assert.strictEqual(o.get("n"), 1, "a partial update must keep other fields");
  });

  await step("user scope: replace object (saveAllFields)", async () => {
    const o = sdk.KiiObject.objectWithURI(userObject.objectURI());
    await o.refresh();
    o.set("title", "third");
    await o.saveAllFields(null, true);
    await userObject.refresh();
    assert.strictEqual(userObject.get("title"), "third");
  });

  await step("user scope: delete object", async () => {
    await userObject.delete();
    const e = await errorOf(sdk.KiiObject.objectWithURI(userObject.objectURI()).refresh());
    assert.ok(e instanceof Error);
  });

  await step("app scope: object CRUD", async () => {
    appBucket = Kii.bucketWithName("js_app_" + suffix);
    let o = appBucket.createObject();
    o.set("kind", "app");
    o = await o.save();
    const read = sdk.KiiObject.objectWithURI(o.objectURI());
    await read.refresh();
    assert.strictEqual(read.get("kind"), "app");
    read.set("kind", "changed");
    await read.save();
    await o.refresh();
    assert.strictEqual(o.get("kind"), "changed");
    await o.delete();
  });

  await step("query with pagination", async () => {
    const bucket = KiiUser.getCurrentUser().bucketWithName("scores");
    for (let i = 0; i < 7; i++) {
      const o = bucket.createObject();
      o.set("score", i);
      o.set("player", i % 2 === 0 ? "even" : "odd");
      await o.save();
    }
    const q = KiiQuery.queryWithClause(KiiClause.greaterThanOrEqual("score", 2));
    q.sortByAsc("score");
    q.setLimit(2);
    const seen = [];
    let next = q;
    let pages = 0;
    while (next) {
      const [, results, nextQuery] = await bucket.executeQuery(next);
      results.forEach(o => seen.push(o.get("score")));
      next = nextQuery;
      pages++;
      assert.ok(pages < 10, "pagination does not end");
    }
    assert.deepStrictEqual(seen, [2, 3, 4, 5, 6]);
    assert.strictEqual(pages, 3);
    const [, , count] = await bucket.countWithQuery(KiiQuery.queryWithClause(KiiClause.equals("player", "even")));
    assert.strictEqual(count, 4);
  });

  await step("ACL changes", async () => {
    const bucket = KiiUser.getCurrentUser().bucketWithName("shared");
    let o = bucket.createObject();
    o.set("secret", false);
    o = await o.save();
    const acl = o.objectACL();
    const entry = KiiACLEntry.entryWithSubject(new KiiAnyAuthenticatedUser(), KiiACLAction.KiiACLObjectActionRead);
    entry.setGrant(true);
    acl.putACLEntry(entry);
    await acl.save();
    const listed = await o.objectACL().listACLEntries();
    const entries = listed[1]; // the promise resolves with the callback arguments: (acl, entries)
    assert.ok(entries.some(e => e.getSubject() instanceof KiiAnyAuthenticatedUser && e.getAction() === KiiACLAction.KiiACLObjectActionRead),
      "the granted entry is not listed");
    // Another user may now read the object, but not write it.
    const other = await KiiUser.userWithUsername("js2-" + suffix, password).register();
    assert.ok(other.getID());
    const read = sdk.KiiObject.objectWithURI(o.objectURI());
    await read.refresh();
    read.set("secret", true);
    const e = await errorOf(read.save());
    assert.ok(e instanceof Error);
    // Revoke it: the other user may no longer read.
    const revoke = KiiACLEntry.entryWithSubject(new KiiAnyAuthenticatedUser(), KiiACLAction.KiiACLObjectActionRead);
    revoke.setGrant(false);
    const acl2 = o.objectACL();
    acl2.putACLEntry(revoke);
    await KiiUser.authenticate(login, password);
    await acl2.save();
    await KiiUser.authenticate("js2-" + suffix, password);
    const e2 = await errorOf(sdk.KiiObject.objectWithURI(o.objectURI()).refresh());
    assert.ok(e2 instanceof Error);
    user = await KiiUser.authenticate(login, password);
  });

  await step("bucket subscription", async () => {
    const bucket = KiiUser.getCurrentUser().bucketWithName("subscribed");
    const o = bucket.createObject();
    await o.save(); // the bucket exists
    const sub = KiiUser.getCurrentUser().pushSubscription();
    await sub.subscribe(bucket);
    const [, , subscribed] = await sub.isSubscribed(bucket);
    assert.strictEqual(subscribed, true);
    await sub.unsubscribe(bucket);
    const [, , after] = await sub.isSubscribed(bucket);
    assert.strictEqual(after, false);
  });

  if (failed > 0) {
    console.log(failed + " step(s) failed");
    process.exit(1);
  }
  console.log("all steps passed");
})().catch(e => {
  console.log("FAIL: " + (e && e.stack || e));
  process.exit(1);
});
