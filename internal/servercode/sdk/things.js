// Kumo's implementation of the Kii JavaScript SDK (v2 API) for server
// code: KiiThing, KiiThingContext and Kii.authenticateAsThingWithToken.
// Written for Kumo on core.js's request bridge (README.md); it shares no
// code with Kii's SDK.
"use strict";

// KiiThing: fields holds the thing's fields (predefined "_" ones and
// custom ones) but not the read-only ones, which have getters.
function KiiThing(fields) {
  this.fields = fields || {};
  this._thingID = null;
  this._vendorThingID = undefined;
  this._accessToken = null;
  this._created = null;
  this._disabled = false;
  this._online = null;
  this._onlineModified = null;
  this._token = Kii._inherit();
}

function kiiThingPath(selector, rest) { return Kii._appPath("/things/" + encodeURIComponent(selector) + (rest || "")); }

// kiiErrorFailure gives a failure callback the Error itself (things,
// topics and push subscriptions).
function kiiErrorFailure(e) { return [e]; }

KiiThing.prototype._apply = function (d) {
  d = d || {};
  var fields = {};
  for (var k in d) {
    if (!d.hasOwnProperty(k)) { continue; }
    switch (k) {
    case "_thingID": this._thingID = d[k]; break;
    case "_vendorThingID": this._vendorThingID = d[k]; break;
    case "_created": this._created = new Date(d[k]); break;
    case "_disabled": this._disabled = d[k]; break;
    case "_online": this._online = d[k]; break;
    case "_onlineStatusModifiedAt": this._onlineModified = new Date(d[k]); break;
    case "_accessToken": this._accessToken = d[k]; break;
    case "_password": break;
    default: fields[k] = d[k];
    }
  }
  this.fields = fields;
  return this;
};

// register(fields): fields carry _vendorThingID and _password, and any
// predefined or custom field.
KiiThing.register = function (fields, callbacks) {
  var t = new KiiThing();
  var p = Kii._request({method: "POST", path: Kii._appPath("/things"), target: t, body: fields || {},
    headers: {"Content-Type": "application/vnd.kii.ThingRegistrationRequest+json"}})
    .then(function (res) { return t._apply(res.json); });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};

// thingWithID is a thing known by its ID, not loaded (admin context).
KiiThing.thingWithID = function (thingID) {
  var t = new KiiThing();
  t._thingID = thingID;
  return t;
};

KiiThing._load = function (selector, callbacks) {
  var t = new KiiThing();
  var p = Kii._request({method: "GET", path: kiiThingPath(selector), target: t}).then(function (res) { return t._apply(res.json); });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};
KiiThing.loadWithThingID = function (thingID, callbacks) { return KiiThing._load(thingID, callbacks); };
KiiThing.loadWithVendorThingID = function (vendorThingID, callbacks) { return KiiThing._load("VENDOR_THING_ID:" + vendorThingID, callbacks); };

// kiiOwner is the path form ("user:{id}", "group:{id}") and the body form
// of a thing owner.
function kiiOwner(owner) {
  if (owner instanceof KiiGroup) { return {path: "group:" + owner.getID(), body: {groupID: owner.getID()}}; }
  return {path: "user:" + owner.getID(), body: {userID: owner.getID()}};
}

// kiiAddOwner adds owner to the thing selector names: with the thing's
// password when given, else without (the admin, the thing itself, or a
// user for himself as the app allows).
function kiiAddOwner(selector, owner, password, target) {
  var o = kiiOwner(owner);
  if (password !== null && password !== undefined) {
    o.body.thingPassword = String(password);
    return Kii._request({method: "POST", path: kiiThingPath(selector, "/ownership"), target: target, body: o.body,
      headers: {"Content-Type": "application/vnd.kii.ThingOwnershipRequest+json"}});
  }
  return Kii._request({method: "PUT", path: kiiThingPath(selector, "/ownership/" + o.path), target: target});
}

// registerOwnerWithThingID(thingID, owner): success(owner).
KiiThing.registerOwnerWithThingID = function (thingID, owner, callbacks) {
  var target = {_token: Kii._inherit()};
  return Kii._settle(kiiAddOwner(thingID, owner, null, target).then(function () { return owner; }), callbacks, null, kiiErrorFailure);
};
KiiThing.registerOwnerWithVendorThingID = function (vendorThingID, owner, callbacks) {
  return KiiThing.registerOwnerWithThingID("VENDOR_THING_ID:" + vendorThingID, owner, callbacks);
};
KiiThing.registerOwnerWithThingIDAndPassword = function (thingID, owner, password, callbacks) {
  var target = {_token: Kii._inherit()};
  return Kii._settle(kiiAddOwner(thingID, owner, password, target).then(function () { return owner; }), callbacks, null, kiiErrorFailure);
};
KiiThing.registerOwnerWithVendorThingIDAndPassword = function (vendorThingID, owner, password, callbacks) {
  return KiiThing.registerOwnerWithThingIDAndPassword("VENDOR_THING_ID:" + vendorThingID, owner, password, callbacks);
};

KiiThing.prototype.getThingID = function () { return this._thingID; };
KiiThing.prototype.getVendorThingID = function () { return this._vendorThingID; };
KiiThing.prototype.getAccessToken = function () { return this._accessToken; };
KiiThing.prototype.getCreated = function () { return this._created; };
KiiThing.prototype.getDisabled = function () { return this._disabled; };
KiiThing.prototype.isOnline = function () { return this._online; };
KiiThing.prototype.getOnlineStatusModifiedAt = function () { return this._onlineModified; };
KiiThing.prototype.getPath = function () { return "/things/" + this._thingID; };
KiiThing.prototype.objectURI = function () { return this._thingID ? "kiicloud://things/" + this._thingID : null; };
KiiThing.prototype.getACLEntityString = function () { return "ThingID:" + this._thingID; };
// toJSON is the thing as JSON.stringify shows it: its fields, never a token.
KiiThing.prototype.toJSON = function () {
  var d = {};
  for (var k in this.fields) { if (this.fields.hasOwnProperty(k)) { d[k] = this.fields[k]; } }
  d._thingID = this._thingID;
  if (this._vendorThingID !== undefined) { d._vendorThingID = this._vendorThingID; }
  d._disabled = this._disabled;
  return d;
};

KiiThing.prototype._noID = function (callbacks) {
  return Kii._reject(callbacks, "The thing has no ID: register or load it first", this, kiiErrorFailure);
};

KiiThing.prototype.refresh = function (callbacks) {
  var self = this;
  if (!self._thingID) { return self._noID(callbacks); }
  var p = Kii._request({method: "GET", path: kiiThingPath(self._thingID), target: self}).then(function (res) { return self._apply(res.json); });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};

// update writes fields (read-only "_" fields are ignored by Kumo), then
// reads the thing back.
KiiThing.prototype.update = function (callbacks) {
  var self = this;
  if (!self._thingID) { return self._noID(callbacks); }
  var p = Kii._request({method: "PATCH", path: kiiThingPath(self._thingID), target: self, body: self.fields || {},
    headers: {"Content-Type": "application/vnd.kii.ThingUpdateRequest+json"}})
    .then(function () { return Kii._request({method: "GET", path: kiiThingPath(self._thingID), target: self}); })
    .then(function (res) { return self._apply(res.json); });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};

KiiThing.prototype.deleteThing = function (callbacks) {
  var self = this;
  if (!self._thingID) { return self._noID(callbacks); }
  var p = Kii._request({method: "DELETE", path: kiiThingPath(self._thingID), target: self}).then(function () { return self; });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};

KiiThing.prototype._setDisabled = function (disabled, callbacks) {
  var self = this;
  if (!self._thingID) { return self._noID(callbacks); }
  var p = Kii._request({method: "PUT", path: kiiThingPath(self._thingID, "/status"), target: self, body: {disabled: disabled},
    headers: {"Content-Type": "application/vnd.kii.ThingStatusUpdateRequest+json"}})
    .then(function () { self._disabled = disabled; return self; });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};
KiiThing.prototype.disable = function (callbacks) { return this._setDisabled(true, callbacks); };
KiiThing.prototype.enable = function (callbacks) { return this._setDisabled(false, callbacks); };

// isOwner(owner): success(thing, owner, isOwner); the promise the array.
KiiThing.prototype.isOwner = function (owner, callbacks) {
  var self = this;
  if (!self._thingID) { return self._noID(callbacks); }
  var p = Kii._request({method: "GET", path: kiiThingPath(self._thingID, "/ownership"), target: self}).then(function (res) {
    var j = res.json || {};
    var list = (owner instanceof KiiGroup ? j.groups : j.users) || [];
    return [self, owner, list.indexOf(owner.getID()) >= 0];
  });
  return Kii._settle(p, callbacks, kiiSpread, kiiErrorFailure);
};

// registerOwner(owner): success(thing, owner); the promise the array.
KiiThing.prototype.registerOwner = function (owner, callbacks) { return this.registerOwnerWithPassword(owner, null, callbacks); };
KiiThing.prototype.registerOwnerWithPassword = function (owner, password, callbacks) {
  var self = this;
  if (!self._thingID) { return self._noID(callbacks); }
  var p = kiiAddOwner(self._thingID, owner, password, self).then(function () { return [self, owner]; });
  return Kii._settle(p, callbacks, kiiSpread, kiiErrorFailure);
};

KiiThing.prototype.unregisterOwner = function (owner, callbacks) {
  var self = this;
  if (!self._thingID) { return self._noID(callbacks); }
  var p = Kii._request({method: "DELETE", path: kiiThingPath(self._thingID, "/ownership/" + kiiOwner(owner).path), target: self})
    .then(function () { return [self, owner]; });
  return Kii._settle(p, callbacks, kiiSpread, kiiErrorFailure);
};

KiiThing.prototype.bucketWithName = function (name) {
  var b = new KiiBucket(name, {kind: "things", id: this._thingID});
  b._token = this._token;
  return b;
};
KiiThing.prototype.encryptedBucketWithName = KiiThing.prototype.bucketWithName;
KiiThing.prototype.topicWithName = function (name) { return kiiTopic(this, "things", this._thingID, name); };
KiiThing.prototype.listTopics = function (callbacks, paginationKey) {
  return kiiListTopics(this, Kii._appPath("/things/" + encodeURIComponent(this._thingID)), callbacks, paginationKey);
};
KiiThing.prototype.pushSubscription = function () { return new KiiPushSubscription(this); };

// KiiThingContext acts as a thing: everything made through it carries
// the thing's token.
function KiiThingContext(thingID, token) {
  this._thingID = thingID;
  this._token = token;
}
KiiThingContext.prototype.getAccessToken = function () { return this._token; };
KiiThingContext.prototype.toJSON = function () { return {thingID: this._thingID}; };
KiiThingContext.prototype._as = function (fn) { return Kii._asToken(this._token, fn); };
KiiThingContext.prototype.bucketWithName = function (name) { return this._as(function () { return new KiiBucket(name, null); }); };
KiiThingContext.prototype.encryptedBucketWithName = KiiThingContext.prototype.bucketWithName;
KiiThingContext.prototype.objectWithURI = function (uri) { return this._as(function () { return KiiObject.objectWithURI(uri); }); };
KiiThingContext.prototype.topicWithName = function (name) { return this._as(function () { return KiiTopic.topicWithName(name); }); };
KiiThingContext.prototype.getAuthenticatedThing = function () {
  var self = this;
  return this._as(function () {
    var t = KiiThing.thingWithID(self._thingID);
    t._accessToken = self._token;
    return t;
  });
};
KiiThingContext.prototype.pushSubscription = function () { return new KiiPushSubscription(this.getAuthenticatedThing()); };

// Kii.authenticateAsThingWithToken(thingID, token): reads the thing with
// its token, makes the thing the run's current identity (later calls act
// as the thing) and resolves with a KiiThingContext acting with it.
Kii.authenticateAsThingWithToken = function (thingID, token, callbacks) {
  var p = Kii._request({method: "GET", path: kiiThingPath(thingID), token: token}).then(function (res) {
    var t = new KiiThing()._apply(res.json);
    t._accessToken = token;
    t._token = undefined;
    Kii._setCurrent(t, token);
    return new KiiThingContext(thingID, token);
  });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};

// Kii.authenticateAsThing(vendorThingID, password): the thing's password
// grant, then as authenticateAsThingWithToken.
Kii.authenticateAsThing = function (vendorThingID, password, callbacks) {
  var p = Kii._request({method: "POST", path: Kii._appPath("/oauth2/token"), token: null,
    body: {grant_type: "password", username: "VENDOR_THING_ID:" + vendorThingID, password: String(password)}})
    .then(function (res) {
      var j = res.json || {};
      return Kii.authenticateAsThingWithToken(j.id, j.access_token);
    });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};
