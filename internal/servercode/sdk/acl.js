// Kumo's implementation of the Kii JavaScript SDK (v2 API) for server
// code: KiiACL, KiiACLEntry, KiiACLAction, KiiAnyAuthenticatedUser and
// KiiAnonymousUser, for buckets, objects and topics. Written for Kumo on
// core.js's request bridge (README.md); it shares no code with Kii's SDK.
"use strict";

var KiiACLAction = {
  KiiACLBucketActionCreateObjects: "CREATE_OBJECTS_IN_BUCKET",
  KiiACLBucketActionQueryObjects: "QUERY_OBJECTS_IN_BUCKET",
  KiiACLBucketActionDropBucket: "DROP_BUCKET_WITH_ALL_CONTENT",
  KiiACLBucketActionReadObjects: "READ_OBJECTS_IN_BUCKET",
  KiiACLObjectActionRead: "READ_EXISTING_OBJECT",
  KiiACLObjectActionWrite: "WRITE_EXISTING_OBJECT",
  KiiACLSubscribeToTopic: "SUBSCRIBE_TO_TOPIC",
  KiiACLSendMessageToTopic: "SEND_MESSAGE_TO_TOPIC"
};

function KiiAnyAuthenticatedUser() {}
KiiAnyAuthenticatedUser.prototype.getID = function () { return "ANY_AUTHENTICATED_USER"; };
KiiAnyAuthenticatedUser.prototype.getACLEntityString = function () { return "UserID:ANY_AUTHENTICATED_USER"; };

function KiiAnonymousUser() {}
KiiAnonymousUser.prototype.getID = function () { return "ANONYMOUS_USER"; };
KiiAnonymousUser.prototype.getACLEntityString = function () { return "UserID:ANONYMOUS_USER"; };

// KiiACLEntry is one action granted (or, to remove, revoked) to a subject:
// a KiiUser, KiiGroup, KiiThing, KiiAnyAuthenticatedUser or KiiAnonymousUser.
function KiiACLEntry() {
  this._subject = null;
  this._action = null;
  this._grant = true;
}
KiiACLEntry.entryWithSubject = function (subject, action) {
  var e = new KiiACLEntry();
  e.setSubject(subject);
  e.setAction(action);
  return e;
};
KiiACLEntry.prototype.setSubject = function (subject) {
  if (!subject || typeof subject.getACLEntityString !== "function") {
    throw Kii._error("An ACL subject is a KiiUser, KiiGroup, KiiThing, KiiAnyAuthenticatedUser or KiiAnonymousUser", -1, null, this);
  }
  this._subject = subject;
};
KiiACLEntry.prototype.getSubject = function () { return this._subject; };
KiiACLEntry.prototype.setAction = function (action) {
  for (var k in KiiACLAction) {
    if (KiiACLAction[k] === action) { this._action = action; return; }
  }
  throw Kii._error("Unknown ACL action: " + action, -1, null, this);
};
KiiACLEntry.prototype.getAction = function () { return this._action; };
KiiACLEntry.prototype.setGrant = function (grant) { this._grant = !!grant; };
KiiACLEntry.prototype.getGrant = function () { return this._grant; };
KiiACLEntry.prototype.toJSON = function () {
  return {action: this._action, subject: this._subject ? this._subject.getACLEntityString() : null, grant: this._grant};
};

// KiiACL is the ACL of a bucket, an object or a topic (its API path, the
// token of the object it came from). putACLEntry and removeACLEntry queue
// changes; save applies them.
function KiiACL(path, owner) {
  this._aclPath = path + "/acl";
  this._owner = owner;
  this._token = owner._token;
  this._entries = [];
}
KiiACL._forBucket = function (bucket) { return new KiiACL(bucket._path(""), bucket); };
KiiACL._forObject = function (object) { return new KiiACL(object._path(), object); };
KiiACL._forTopic = function (topic) { return new KiiACL(topic._path(), topic); };
// toJSON is the ACL as JSON.stringify shows it: its queued entries, never a token.
KiiACL.prototype.toJSON = function () { return {path: this._aclPath, pending: this._entries}; };
KiiObject.prototype.objectACL = KiiObject.prototype.acl;

// A bucket as JSON.stringify shows it: its name and scope, never the token
// it carries (the admin's, for the buckets of admin-context objects).
// core.js's own toJSON, if it has one, wins.
if (!KiiBucket.prototype.hasOwnProperty("toJSON")) {
  KiiBucket.prototype.toJSON = function () { return {bucketName: this._name, scope: this._scope}; };
}

KiiACL.prototype.putACLEntry = function (entry) {
  entry.setGrant(true);
  this._entries.push(entry);
};
KiiACL.prototype.removeACLEntry = function (entry) {
  entry.setGrant(false);
  this._entries.push(entry);
};

KiiACL.prototype._subject = function (d) {
  var s;
  if (d.groupID) {
    s = KiiGroup.groupWithID(d.groupID);
  } else if (d.thingID) {
    s = KiiThing.thingWithID(d.thingID);
  } else if (d.userID === "ANY_AUTHENTICATED_USER") {
    return new KiiAnyAuthenticatedUser();
  } else if (d.userID === "ANONYMOUS_USER") {
    return new KiiAnonymousUser();
  } else {
    s = KiiUser.userWithID(d.userID);
  }
  s._token = this._token;
  return s;
};

// listACLEntries: success(acl, entries), the promise [acl, entries]: one
// entry per action and subject granted.
KiiACL.prototype.listACLEntries = function (callbacks) {
  var self = this;
  var p = Kii._request({method: "GET", path: self._aclPath, target: self}).then(function (res) {
    var j = res.json || {};
    var entries = [];
    for (var action in j) {
      if (!j.hasOwnProperty(action)) { continue; }
      var subjects = j[action] || [];
      for (var i = 0; i < subjects.length; i++) {
        var e = new KiiACLEntry();
        e._action = action;
        e._subject = self._subject(subjects[i]);
        entries.push(e);
      }
    }
    return [self, entries];
  });
  return Kii._settle(p, callbacks, kiiSpread, kiiTargetFailure(self));
};

// save applies the queued entries in order (PUT grants, DELETE revokes);
// it stops at the first that fails, which stays queued with those after it.
KiiACL.prototype.save = function (callbacks) {
  var self = this;
  function next() {
    if (self._entries.length === 0) { return self; }
    var e = self._entries[0];
    var path = self._aclPath + "/" + e.getAction() + "/" + encodeURIComponent(e.getSubject().getACLEntityString());
    return Kii._request({method: e.getGrant() ? "PUT" : "DELETE", path: path, target: self}).then(function () {
      self._entries.shift();
      return next();
    });
  }
  return Kii._settle(Promise.resolve(self).then(next), callbacks, null, kiiTargetFailure(self));
};
