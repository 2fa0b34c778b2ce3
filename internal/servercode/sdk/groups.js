// Kumo's implementation of the Kii JavaScript SDK (v2 API) for server
// code: KiiGroup. Written for Kumo on core.js's request bridge (README.md);
// it shares no code with Kii's SDK.
"use strict";

function KiiGroup() {
  this._id = null;
  this._name = null;
  this._owner = undefined; // the owner's user ID once known (null: none)
  this._add = [];
  this._remove = [];
  this._token = Kii._inherit();
}

function kiiGroupPath(id, rest) { return Kii._appPath("/groups/" + encodeURIComponent(id) + (rest || "")); }

KiiGroup.prototype._apply = function (d) {
  d = d || {};
  if (d.groupID) { this._id = d.groupID; }
  if (d.name !== undefined) { this._name = d.name; }
  this._owner = d.owner === undefined ? null : d.owner;
  return this;
};

KiiGroup.groupWithName = function (groupName) {
  var g = new KiiGroup();
  g._name = groupName;
  return g;
};

KiiGroup.groupWithNameAndMembers = function (groupName, members) {
  var g = KiiGroup.groupWithName(groupName);
  for (var i = 0; members && i < members.length; i++) { g.addUser(members[i]); }
  return g;
};

KiiGroup.groupWithID = function (groupID) {
  if (typeof groupID !== "string" || groupID === "") {
    throw Kii._error("groupID must be a non-empty string", -1, null, null);
  }
  var g = new KiiGroup();
  g._id = groupID;
  return g;
};

KiiGroup.groupWithURI = function (uri) {
  var m = /^kiicloud:\/\/groups\/([^\/]+)$/.exec(String(uri));
  if (!m) { throw Kii._error("Invalid group URI: " + uri, -1, null, null); }
  return KiiGroup.groupWithID(m[1]);
};

function kiiUserIDs(users) {
  var ids = [];
  for (var i = 0; users && i < users.length; i++) {
    ids.push(typeof users[i] === "string" ? users[i] : users[i].getID());
  }
  return ids;
}

// kiiGroupSaved settles a group save: its error carries the members not
// yet added and removed (addMembersArray, removeMembersArray), which the
// failure callback gets as (group, message, toAdd, toRemove).
function kiiGroupSaved(g, p, callbacks) {
  p = p.then(null, function (e) {
    e.addMembersArray = g._add.slice();
    e.removeMembersArray = g._remove.slice();
    throw e;
  });
  return Kii._settle(p, callbacks, null, function (e) {
    return [g, e.message, e.addMembersArray, e.removeMembersArray];
  });
}

// kiiCurrentUserID is the current identity's user ID (null for the admin
// or anonymous).
function kiiCurrentUserID() {
  var u = KiiUser.getCurrentUser();
  return Kii._inherit() === undefined && u ? u.getID() : null;
}

// registerGroupWithID(groupID, groupName, members): a group with a chosen
// ID, owned by the current user.
KiiGroup.registerGroupWithID = function (groupID, groupName, members, callbacks) {
  return KiiGroup.registerGroupWithOwnerAndID(groupID, groupName, kiiCurrentUserID(), members, callbacks);
};

// registerGroupWithOwnerAndID(groupID, groupName, owner, members): owner
// a user ID (the admin context's form).
KiiGroup.registerGroupWithOwnerAndID = function (groupID, groupName, owner, members, callbacks) {
  var g = new KiiGroup();
  g._id = groupID;
  g._name = groupName;
  var b = {name: groupName, members: kiiUserIDs(members)};
  if (owner) { b.owner = typeof owner === "string" ? owner : owner.getID(); }
  var p = Kii._request({method: "PUT", path: kiiGroupPath(groupID), target: g, body: b,
    headers: {"Content-Type": "application/vnd.kii.GroupCreationRequest+json"}})
    .then(function () { g._owner = b.owner || null; return g; });
  return kiiGroupSaved(g, p, callbacks);
};

KiiGroup.prototype.getID = function () { return this._id; };
KiiGroup.prototype.getUUID = function () { return this._id; };
KiiGroup.prototype.getName = function () { return this._name; };
KiiGroup.prototype.objectURI = function () { return this._id ? "kiicloud://groups/" + this._id : null; };
KiiGroup.prototype.getPath = function () { return "/groups/" + this._id; };
KiiGroup.prototype.getACLEntityString = function () { return "GroupID:" + this._id; };
// toJSON is the group as JSON.stringify shows it (never a token).
KiiGroup.prototype.toJSON = function () { return {groupID: this._id, name: this._name, owner: this._owner || null}; };
KiiGroup.prototype._user = function (id) {
  var u = KiiUser.userWithID(id);
  u._token = this._token;
  return u;
};
KiiGroup.prototype.getCachedOwner = function () {
  if (this._owner === undefined || this._owner === null) { return this._owner; }
  return this._user(this._owner);
};

// addUser and removeUser change the members locally; save applies them.
KiiGroup.prototype.addUser = function (member) {
  var id = member.getID();
  this._remove = this._remove.filter(function (x) { return x.getID() !== id; });
  this._add.push(member);
};
KiiGroup.prototype.removeUser = function (member) {
  var id = member.getID();
  this._add = this._add.filter(function (x) { return x.getID() !== id; });
  this._remove.push(member);
  return this;
};

// save creates a group without ID (owned by the current user, with the
// members added), else applies the members added and removed, one request
// each; what failed stays pending.
KiiGroup.prototype.save = function (callbacks) { return this._save(null, callbacks); };

// saveWithOwner(ownerID) is save that also makes ownerID the owner.
KiiGroup.prototype.saveWithOwner = function (owner, callbacks) { return this._save(owner, callbacks); };

KiiGroup.prototype._save = function (owner, callbacks) {
  var self = this;
  var p;
  if (!self._id) {
    var b = {name: self._name, members: kiiUserIDs(self._add)};
    var o = owner || (self._token === undefined ? kiiCurrentUserID() : null);
    if (o) { b.owner = o; }
    p = Kii._request({method: "POST", path: Kii._appPath("/groups"), target: self, body: b,
      headers: {"Content-Type": "application/vnd.kii.GroupCreationRequest+json"}})
      .then(function (res) {
        self._id = (res.json || {}).groupID;
        self._owner = b.owner || null;
        self._add = [];
        return self;
      });
    return kiiGroupSaved(self, p, callbacks);
  }
  p = Promise.resolve(self);
  if (owner) {
    p = p.then(function () {
      return Kii._request({method: "PUT", path: kiiGroupPath(self._id, "/owner"), target: self, body: {owner: owner},
        headers: {"Content-Type": "application/vnd.kii.GroupOwnerChangeRequest+json"}});
    }).then(function () { self._owner = owner; });
  }
  function next() {
    if (self._add.length > 0) {
      return Kii._request({method: "PUT", path: kiiGroupPath(self._id, "/members/" + encodeURIComponent(self._add[0].getID())), target: self})
        .then(function () { self._add.shift(); return next(); });
    }
    if (self._remove.length > 0) {
      return Kii._request({method: "DELETE", path: kiiGroupPath(self._id, "/members/" + encodeURIComponent(self._remove[0].getID())), target: self})
        .then(function () { self._remove.shift(); return next(); });
    }
    return self;
  }
  return kiiGroupSaved(self, p.then(next), callbacks);
};

KiiGroup.prototype._noID = function (callbacks) {
  return Kii._reject(callbacks, "The group has no ID: save or load it first", this, kiiTargetFailure(this));
};

// getMemberList: success(group, members), the promise [group, members].
KiiGroup.prototype.getMemberList = function (callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "GET", path: kiiGroupPath(self._id, "/members"), target: self}).then(function (res) {
    var ms = (res.json && res.json.members) || [];
    var list = [];
    for (var i = 0; i < ms.length; i++) { list.push(self._user(ms[i].userID)); }
    return [self, list];
  });
  return Kii._settle(p, callbacks, kiiSpread, kiiTargetFailure(self));
};

// getOwner: success(group, owner), the promise [group, owner].
KiiGroup.prototype.getOwner = function (callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "GET", path: kiiGroupPath(self._id), target: self}).then(function (res) {
    self._apply(res.json);
    return [self, self.getCachedOwner()];
  });
  return Kii._settle(p, callbacks, kiiSpread, kiiTargetFailure(self));
};

KiiGroup.prototype.changeGroupName = function (newName, callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "PUT", path: kiiGroupPath(self._id, "/name"), target: self, body: String(newName),
    headers: {"Content-Type": "text/plain"}})
    .then(function () { self._name = newName; return self; });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(self));
};

KiiGroup.prototype.refresh = function (callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "GET", path: kiiGroupPath(self._id), target: self}).then(function (res) {
    return self._apply(res.json);
  });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(self));
};

KiiGroup.prototype["delete"] = function (callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "DELETE", path: kiiGroupPath(self._id), target: self}).then(function () { return self; });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(self));
};

KiiGroup.prototype.bucketWithName = function (name) {
  var b = new KiiBucket(name, {kind: "groups", id: this._id});
  b._token = this._token;
  return b;
};
KiiGroup.prototype.encryptedBucketWithName = KiiGroup.prototype.bucketWithName;
KiiGroup.prototype.topicWithName = function (name) { return kiiTopic(this, "groups", this._id, name); };
KiiGroup.prototype.listTopics = function (callbacks, paginationKey) {
  return kiiListTopics(this, Kii._appPath("/groups/" + encodeURIComponent(this._id)), callbacks, paginationKey);
};
