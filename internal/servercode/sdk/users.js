// Kumo's implementation of the Kii JavaScript SDK (v2 API) for server
// code: KiiUser and KiiUserBuilder. Written for Kumo on core.js's request
// bridge (README.md); it shares no code with Kii's SDK.
"use strict";

function KiiUser() {
  this._id = null;
  this._username = undefined;
  this._password = undefined;
  this._email = undefined;
  this._phone = undefined;
  this._displayName = null;
  this._country = undefined;
  this._locale = null;
  this._created = undefined;
  this._modified = undefined;
  this._disabled = undefined;
  this._hasPassword = undefined;
  this._emailVerified = undefined;
  this._phoneVerified = undefined;
  this._custom = {};
  this._changed = {};      // predefined fields set since the last save
  this._refreshed = false; // _custom holds the stored custom fields
  this._accessToken = null; // set when this user logged in
  this._expiresAt = null;
  this._token = Kii._inherit(); // the admin token when made by an admin context
}

// kiiUserPath is the API path of a user: "/api/apps/{appID}/users/{id}".
function kiiUserPath(id, rest) { return Kii._appPath("/users/" + encodeURIComponent(id) + (rest || "")); }

// kiiTargetFailure gives a failure callback (target, message);
// kiiMessageFailure (message); kiiSpread hands an array of values to a
// success callback as its arguments.
function kiiTargetFailure(target) { return function (e) { return [target, e.message]; }; }
function kiiMessageFailure(e) { return [e.message]; }
function kiiSpread(v) { return v; }

KiiUser.userWithID = function (userID) {
  if (typeof userID !== "string" || userID === "") {
    throw Kii._error("userID must be a non-empty string", -1, null, null);
  }
  var u = new KiiUser();
  u._id = userID;
  return u;
};

KiiUser.userWithURI = function (uri) {
  var m = /^kiicloud:\/\/users\/([^\/]+)$/.exec(String(uri));
  if (!m) { throw Kii._error("Invalid user URI: " + uri, -1, null, null); }
  return KiiUser.userWithID(m[1]);
};

function kiiNewUser(username, email, phone, password) {
  var u = new KiiUser();
  u._username = username;
  u._email = email;
  u._phone = phone;
  u._password = password;
  return u;
}
KiiUser.userWithUsername = function (username, password) { return kiiNewUser(username, undefined, undefined, password); };
KiiUser.userWithEmailAddress = function (email, password) { return kiiNewUser(undefined, email, undefined, password); };
KiiUser.userWithPhoneNumber = function (phone, password) { return kiiNewUser(undefined, undefined, phone, password); };
KiiUser.userWithEmailAddressAndUsername = function (email, username, password) { return kiiNewUser(username, email, undefined, password); };
KiiUser.userWithPhoneNumberAndUsername = function (phone, username, password) { return kiiNewUser(username, undefined, phone, password); };
KiiUser.userWithEmailAddressAndPhoneNumber = function (email, phone, password) { return kiiNewUser(undefined, email, phone, password); };
KiiUser.userWithCredentials = function (email, phone, username, password) { return kiiNewUser(username, email, phone, password); };

var kiiUserPredefined = {
  userID: true, loginName: true, emailAddress: true, phoneNumber: true, displayName: true,
  country: true, locale: true, emailAddressVerified: true, phoneNumberVerified: true
};

// _apply fills the user from its record as GET /users/{id} returns it.
KiiUser.prototype._apply = function (d) {
  d = d || {};
  if (d.userID) { this._id = d.userID; }
  this._custom = {};
  for (var k in d) {
    if (d.hasOwnProperty(k) && !kiiUserPredefined[k] && k.charAt(0) !== "_") { this._custom[k] = d[k]; }
  }
  this._username = d.loginName;
  this._email = d.emailAddress;
  this._phone = d.phoneNumber;
  this._displayName = d.displayName === undefined ? null : d.displayName;
  this._country = d.country;
  this._locale = d.locale === undefined ? null : d.locale;
  this._emailVerified = d.emailAddressVerified;
  this._phoneVerified = d.phoneNumberVerified;
  if (d._disabled !== undefined) { this._disabled = d._disabled; }
  if (d._hasPassword !== undefined) { this._hasPassword = d._hasPassword; }
  this._changed = {};
  this._refreshed = true;
  return this;
};

KiiUser.prototype.getID = function () { return this._id; };
KiiUser.prototype.getUUID = function () { return this._id; };
KiiUser.prototype.getUsername = function () { return this._username; };
KiiUser.prototype.getEmailAddress = function () { return this._email; };
KiiUser.prototype.getPhoneNumber = function () { return this._phone; };
KiiUser.prototype.getDisplayName = function () { return this._displayName; };
KiiUser.prototype.setDisplayName = function (v) { this._displayName = v; this._changed.displayName = true; };
KiiUser.prototype.getCountry = function () { return this._country; };
KiiUser.prototype.setCountry = function (v) { this._country = v; this._changed.country = true; };
KiiUser.prototype.getLocale = function () { return this._locale; };
KiiUser.prototype.setLocale = function (v) { this._locale = v; this._changed.locale = true; };
KiiUser.prototype.getCreated = function () { return this._created; };
KiiUser.prototype.disabled = function () { return this._disabled; };
KiiUser.prototype.getEmailVerified = function () { return this._emailVerified; };
KiiUser.prototype.isEmailVerified = function () { return this._emailVerified; };
KiiUser.prototype.getPhoneVerified = function () { return this._phoneVerified; };
KiiUser.prototype.isPhoneVerified = function () { return this._phoneVerified; };
KiiUser.prototype.isPseudoUser = function () { return this._hasPassword === false; };
KiiUser.prototype.getAccessToken = function () { return this._accessToken; };
KiiUser.prototype.getAccessTokenObject = function () {
  return this._accessToken ? {access_token: this._accessToken, expires_at: this._expiresAt} : null;
};
KiiUser.prototype.objectURI = function () { return this._id ? "kiicloud://users/" + this._id : null; };
KiiUser.prototype.getPath = function () { return "/users/" + this._id; };
KiiUser.prototype.getACLEntityString = function () { return "UserID:" + this._id; };

// set keeps a custom field (keys starting with "_" are ignored, as Kii does).
KiiUser.prototype.set = function (key, value) {
  if (typeof key !== "string" || key === "" || key.charAt(0) === "_") { return; }
  this._custom[key] = value;
  this._changed["custom:" + key] = true;
};
KiiUser.prototype.get = function (key) { return this._custom[key]; };

// toJSON is the user as JSON.stringify (a returned value, console.log)
// shows it: its record, never a token.
KiiUser.prototype.toJSON = function () {
  var d = {};
  for (var k in this._custom) { if (this._custom.hasOwnProperty(k)) { d[k] = this._custom[k]; } }
  d.userID = this._id;
  if (this._username !== undefined) { d.loginName = this._username; }
  if (this._email !== undefined) { d.emailAddress = this._email; }
  if (this._phone !== undefined) { d.phoneNumber = this._phone; }
  if (this._displayName !== null) { d.displayName = this._displayName; }
  if (this._country !== undefined) { d.country = this._country; }
  if (this._locale !== null) { d.locale = this._locale; }
  return d;
};

// logOut forgets the current identity: later calls are anonymous.
KiiUser.logOut = function () { Kii._setCurrent(null, null); };

KiiUser.getCurrentUser = function () {
  var u = Kii._currentUser;
  return u instanceof KiiUser ? u : null;
};

// _login finishes a login: reads the user with token and makes it the
// run's current identity.
KiiUser._login = function (u, token, expiresAt) {
  return Kii._request({method: "GET", path: Kii._appPath("/users/me"), token: token}).then(function (res) {
    u._apply(res.json);
    u._accessToken = token;
    u._expiresAt = expiresAt || null;
    u._token = undefined; // requests follow the current identity: this user
    Kii._setCurrent(u, token);
    return u;
  });
};

// authenticateWithToken makes the user owning accessToken the run's
// current identity: later SDK calls act as that user.
KiiUser.authenticateWithToken = function (accessToken, callbacks, expiresAt) {
  var u = new KiiUser();
  if (typeof accessToken !== "string" || accessToken === "") {
    return Kii._reject(callbacks, "accessToken must be a non-empty string", u);
  }
  return Kii._settle(KiiUser._login(u, accessToken, expiresAt), callbacks, null, kiiTargetFailure(u));
};

// authenticate logs in with a user name, email address or phone number
// and a password (the password grant), then becomes the current identity.
KiiUser.authenticate = function (userIdentifier, password, callbacks) {
  var u = new KiiUser();
  var p = Kii._request({method: "POST", path: Kii._appPath("/oauth2/token"), token: null,
    body: {grant_type: "password", username: kiiIdentifier(userIdentifier), password: String(password)}})
    .then(function (res) {
      var j = res.json || {};
      var exp = j.expires_in ? new Date(Date.now() + j.expires_in * 1000) : null;
      return KiiUser._login(u, j.access_token, exp);
    });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(u));
};

// kiiIdentifier is the token endpoint's form of a login identifier: an
// email address or a "+" phone number gets its prefix, a user name none.
function kiiIdentifier(s) {
  s = String(s);
  if (s.indexOf("@") > 0) { return "EMAIL:" + s; }
  if (/^\+[0-9]+$/.test(s)) { return "PHONE:" + s; }
  return s;
}

KiiUser._find = function (selector, callbacks) {
  var token = Kii._inherit();
  var p = Kii._request({method: "GET", path: kiiUserPath(selector), token: Kii._tokenOf(null)}).then(function (res) {
    var u = new KiiUser();
    u._token = token;
    return u._apply(res.json);
  });
  return Kii._settle(p, callbacks, null, kiiMessageFailure);
};
KiiUser.findUserByUsername = function (username, callbacks) { return KiiUser._find("LOGIN_NAME:" + username, callbacks); };
KiiUser.findUserByEmail = function (email, callbacks) { return KiiUser._find("EMAIL:" + email, callbacks); };
KiiUser.findUserByPhone = function (phone, callbacks) { return KiiUser._find("PHONE:" + phone, callbacks); };

// register creates the user and logs it in (its registration returns a
// token), as the SDK does.
KiiUser.prototype.register = function (callbacks) {
  var self = this;
  var b = {};
  var k;
  for (k in self._custom) { if (self._custom.hasOwnProperty(k)) { b[k] = self._custom[k]; } }
  if (self._username !== undefined) { b.loginName = self._username; }
  if (self._email !== undefined) { b.emailAddress = self._email; }
  if (self._phone !== undefined) { b.phoneNumber = self._phone; }
  if (self._displayName !== null) { b.displayName = self._displayName; }
  if (self._country !== undefined) { b.country = self._country; }
  if (self._locale !== null) { b.locale = self._locale; }
  if (self._password !== undefined) { b.password = self._password; }
  var p = Kii._request({method: "POST", path: Kii._appPath("/users"), target: self, body: b,
    headers: {"Content-Type": "application/vnd.kii.RegistrationAndAuthorizationRequest+json"}})
    .then(function (res) {
      var j = res.json || {};
      self._id = j.userID;
      self._password = undefined;
      return KiiUser._login(self, j._accessToken, null);
    });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(self));
};

KiiUser.prototype._noID = function (callbacks) {
  return Kii._reject(callbacks, "The user has no ID: register or load it first", this, kiiTargetFailure(this));
};

KiiUser.prototype.refresh = function (callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "GET", path: kiiUserPath(self._id), target: self}).then(function (res) {
    return self._apply(res.json);
  });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(self));
};

// _update writes fields: Kumo replaces a user's custom fields as a set,
// so the stored ones are read first and the local changes laid over them.
KiiUser.prototype._update = function (fields, remove, callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "GET", path: kiiUserPath(self._id), target: self}).then(function (res) {
    var stored = new KiiUser()._apply(res.json);
    var b = {};
    var k;
    for (k in stored._custom) { if (stored._custom.hasOwnProperty(k)) { b[k] = stored._custom[k]; } }
    for (k in self._changed) {
      if (self._changed.hasOwnProperty(k) && k.indexOf("custom:") === 0) { b[k.substring(7)] = self._custom[k.substring(7)]; }
    }
    if (self._changed.displayName) { b.displayName = self._displayName; }
    if (self._changed.country) { b.country = self._country; }
    if (self._changed.locale) { b.locale = self._locale; }
    for (k in fields) { if (fields.hasOwnProperty(k)) { b[k] = fields[k]; } }
    for (var i = 0; i < remove.length; i++) { delete b[remove[i]]; }
    return Kii._request({method: "POST", path: kiiUserPath(self._id), target: self, body: b,
      headers: {"Content-Type": "application/vnd.kii.UserUpdateRequest+json"}});
  }).then(function () {
    return Kii._request({method: "GET", path: kiiUserPath(self._id), target: self});
  }).then(function (res) {
    return self._apply(res.json);
  });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(self));
};

// save writes the custom fields set and the predefined fields changed.
KiiUser.prototype.save = function (callbacks) { return this._update({}, [], callbacks); };

// update(identityData, callbacks, userFields, removeFields): identityData
// may carry username, email, phoneNumber; userFields predefined or custom
// fields; removeFields custom fields to drop.
KiiUser.prototype.update = function (identityData, callbacks, userFields, removeFields) {
  var f = {};
  var k;
  if (identityData) {
    if (identityData.username !== undefined) { f.loginName = identityData.username; }
    if (identityData.email !== undefined) { f.emailAddress = identityData.email; }
    if (identityData.phoneNumber !== undefined) { f.phoneNumber = identityData.phoneNumber; }
  }
  if (userFields) {
    for (k in userFields) { if (userFields.hasOwnProperty(k) && k !== "password") { f[k] = userFields[k]; } }
  }
  return this._update(f, removeFields || [], callbacks);
};

KiiUser.prototype["delete"] = function (callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "DELETE", path: kiiUserPath(self._id), target: self}).then(function () {
    if (Kii._currentUser === self) { Kii._setCurrent(null, null); }
    return self;
  });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(self));
};

// updatePassword(fromPassword, toPassword): the admin may pass null as
// fromPassword.
KiiUser.prototype.updatePassword = function (fromPassword, toPassword, callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var b = {newPassword: toPassword};
  if (fromPassword !== null && fromPassword !== undefined) { b.oldPassword = fromPassword; }
  var p = Kii._request({method: "PUT", path: kiiUserPath(self._id, "/password"), target: self, body: b,
    headers: {"Content-Type": "application/vnd.kii.ChangePasswordRequest+json"}})
    .then(function () { return self; });
  return Kii._settle(p, callbacks, null, kiiTargetFailure(self));
};

KiiUser.prototype._groups = function (param, callbacks) {
  var self = this;
  if (!self._id) { return self._noID(callbacks); }
  var p = Kii._request({method: "GET", path: Kii._appPath("/groups?" + param + "=" + encodeURIComponent(self._id)), target: self})
    .then(function (res) {
      var gs = (res.json && res.json.groups) || [];
      var list = [];
      for (var i = 0; i < gs.length; i++) {
        var g = new KiiGroup();
        g._token = self._token;
        list.push(g._apply(gs[i]));
      }
      return [self, list];
    });
  return Kii._settle(p, callbacks, kiiSpread, kiiTargetFailure(self));
};
KiiUser.prototype.memberOfGroups = function (callbacks) { return this._groups("is_member", callbacks); };
KiiUser.prototype.ownerOfGroups = function (callbacks) { return this._groups("owner", callbacks); };

KiiUser.prototype.bucketWithName = function (name) {
  var b = new KiiBucket(name, {kind: "users", id: this._id});
  b._token = this._token;
  return b;
};
KiiUser.prototype.encryptedBucketWithName = KiiUser.prototype.bucketWithName;
KiiUser.prototype.topicWithName = function (name) { return kiiTopic(this, "users", this._id, name); };
KiiUser.prototype.listTopics = function (callbacks, paginationKey) {
  return kiiListTopics(this, Kii._appPath("/users/" + encodeURIComponent(this._id)), callbacks, paginationKey);
};
KiiUser.prototype.pushSubscription = function () { return new KiiPushSubscription(this); };

// KiiUserBuilder builds a KiiUser to register.
function KiiUserBuilder(identifier, password) {
  this._username = undefined;
  this._email = undefined;
  this._phone = undefined;
  this._password = password;
  if (identifier !== undefined) {
    var s = String(identifier);
    if (s.indexOf("@") > 0) { this._email = s; } else if (/^\+[0-9]+$/.test(s)) { this._phone = s; } else { this._username = s; }
  }
}
KiiUserBuilder.builderWithIdentifier = function (identifier, password) { return new KiiUserBuilder(identifier, password); };
KiiUserBuilder.builderWithUsername = function (username, password) {
  var b = new KiiUserBuilder(undefined, password); b._username = username; return b;
};
KiiUserBuilder.builderWithEmailAddress = function (email, password) {
  var b = new KiiUserBuilder(undefined, password); b._email = email; return b;
};
KiiUserBuilder.builderWithGlobalPhoneNumber = function (phone, password) {
  var b = new KiiUserBuilder(undefined, password); b._phone = phone; return b;
};
KiiUserBuilder.builderWithLocalPhoneNumber = KiiUserBuilder.builderWithGlobalPhoneNumber;
KiiUserBuilder.prototype.setUsername = function (v) { this._username = v; return this; };
KiiUserBuilder.prototype.setEmailAddress = function (v) { this._email = v; return this; };
KiiUserBuilder.prototype.setGlobalPhoneNumber = function (v) { this._phone = v; return this; };
KiiUserBuilder.prototype.setLocalPhoneNumber = KiiUserBuilder.prototype.setGlobalPhoneNumber;
KiiUserBuilder.prototype.build = function () { return kiiNewUser(this._username, this._email, this._phone, this._password); };
