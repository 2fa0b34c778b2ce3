// Kumo's implementation of the core of the Kii JavaScript SDK (v2 API) for
// server code: Kii, the request bridge, promises and callbacks, the
// context, KiiAppAdminContext, KiiBucket, KiiObject, KiiQuery, KiiClause,
// $.ajax and console. Written for Kumo; see README.md for the contract
// other SDK files (users.js, ...) are written against.
"use strict";

var Kii = (function () {
  var K = {};
  // Per-run state, reset by __kii_begin.
  K._currentUser = null;   // a KiiUser (users.js) or a KiiThing once authenticated
  K._currentToken = null;  // the token requests of the current identity carry
  K._override = undefined; // a token forced by K._asToken (admin context)

  K.getAppID = function () { return __kii_appID(); };
  K.getAppKey = function () { return __kii_appKey(); };
  K.getBaseURL = function () { return __kii_baseURL(); };
  K.getSDKVersion = function () { return "2.4.19"; };
  K.initialize = function () {};         // already initialised for the app
  K.initializeWithSite = function () {};
  K.setLogging = function () {};
  K.isLoggingEnabled = function () { return false; };
  K.getCurrentUser = function () { return K._currentUser; };
  K.setAccessTokenExpiration = function () {};
  K.getAccessTokenExpiration = function () { return 0; };

  // _appPath is the path of Kumo's API for the app: "/api/apps/{appID}" + rest.
  K._appPath = function (rest) { return "/api/apps/" + encodeURIComponent(K.getAppID()) + (rest || ""); };

  // _inherit is the _token a new SDK object takes: the forced token while
  // K._asToken runs, else undefined (the current identity at request time).
  K._inherit = function () { return K._override; };

  // _tokenOf is the token a request made for obj carries (null: anonymous).
  K._tokenOf = function (obj) {
    if (obj && obj._token !== undefined) { return obj._token; }
    if (K._override !== undefined) { return K._override; }
    return K._currentToken;
  };

  // _asToken runs fn with every request and new object using token.
  K._asToken = function (token, fn) {
    var saved = K._override;
    K._override = token;
    try { return fn(); } finally { K._override = saved; }
  };

  // _setCurrent makes user (with token) the identity of later requests.
  K._setCurrent = function (user, token) {
    K._currentUser = user || null;
    K._currentToken = token || null;
  };

  // _error builds the Error a promise rejects with.
  K._error = function (message, status, code, target) {
    var e = new Error(message);
    e.status = status === undefined ? -1 : status;
    e.code = code || null;
    e.errorCode = code || null;
    e.target = target;
    return e;
  };

  // _requestSync calls Kumo's API now: {status, headers, body, json}.
  K._requestSync = function (opts) {
    var headers = {};
    var h = opts.headers;
    if (h) { for (var k in h) { if (h.hasOwnProperty(k)) { headers[k] = h[k]; } } }
    headers["X-Kii-AppID"] = K.getAppID();
    var token = opts.token !== undefined ? opts.token : K._tokenOf(null);
    if (token) { headers["Authorization"] = "Bearer " + token; }
    var body = opts.body;
    if (body !== undefined && body !== null && typeof body !== "string") {
      body = JSON.stringify(body);
      if (!headers["Content-Type"]) { headers["Content-Type"] = "application/json"; }
    }
    var res = __kii_http(opts.method || "GET", opts.path, headers, body === undefined ? null : body);
    if (res.json === undefined) { // not parsed by the bridge
      res.json = null;
      if (res.body) { try { res.json = JSON.parse(res.body); } catch (e) { res.json = null; } }
    }
    return res;
  };

  // _request calls Kumo's API later (after the current code returns, like
  // a network call) and returns a promise of {status, headers, body, json}
  // for a 2xx answer, rejected with a K._error otherwise. The token is
  // taken now: opts.token, else K._tokenOf(opts.target).
  K._request = function (opts) { return K._call(opts); };

  // _call is _request, then map(res) (its value), then _settle with the
  // callbacks, in ONE promise: the request runs later (a task), and in
  // that task map and the callback run before the promise settles, so
  // that .then handlers see the callbacks' effects, as with _settle. It
  // spares the objects and jobs of three chained promises on the SDK's
  // hot paths (refresh, save, delete). map throwing is a failure (the
  // failure callback, then the rejection); a callback throwing rejects the
  // promise with what it threw.
  K._call = function (opts, map, callbacks, successArgs, failureArgs) {
    var token = opts.token !== undefined ? opts.token : K._tokenOf(opts.target);
    return new Promise(function (resolve, reject) {
      __kii_defer(function () {
        var res, v;
        try {
          res = K._requestSync({method: opts.method, path: opts.path, headers: opts.headers, body: opts.body, token: token});
        } catch (e) {
          K._fail(K._error(e && e.message ? e.message : String(e), 0, null, opts.target), callbacks, failureArgs, reject);
          return;
        }
        if (res.status < 200 || res.status >= 300) {
          var j = res.json || {};
          var code = j.errorCode || ("HTTP_" + res.status);
          K._fail(K._error(code + ": " + (j.message || res.body || ("status " + res.status)), res.status, code, opts.target), callbacks, failureArgs, reject);
          return;
        }
        try {
          v = map ? map(res) : res;
        } catch (e) { // as a rejected .then(map): the failure callback gets it
          K._fail(e, callbacks, failureArgs, reject);
          return;
        }
        try {
          if (callbacks && typeof callbacks.success === "function") {
            callbacks.success.apply(callbacks, successArgs ? successArgs(v) : [v]);
          }
        } catch (e) {
          reject(e);
          return;
        }
        resolve(v);
      });
    });
  };

  // _fail gives err to the failure callback, then rejects with it (or
  // with what the callback threw), as _settle does.
  K._fail = function (err, callbacks, failureArgs, reject) {
    if (callbacks && typeof callbacks.failure === "function") {
      try {
        callbacks.failure.apply(callbacks, failureArgs ? failureArgs(err) : [err.target, err.message]);
      } catch (e) {
        reject(e);
        return;
      }
    }
    reject(err);
  };

  // _unquote is an ETag's value without its quotes.
  K._unquote = function (s) {
    var n = s.length;
    if (n >= 2 && s.charAt(0) === '"' && s.indexOf('"', 1) === n - 1) { return s.substring(1, n - 1); }
    return s.indexOf('"') < 0 ? s : s.split('"').join("");
  };

  // _settle connects a promise to Kii's callbacks {success, failure}.
  // successArgs(value) and failureArgs(error) give the callbacks'
  // arguments. As in Kii's SDK, the promise rejects on a failure even
  // when a failure callback was given (and called first).
  K._settle = function (promise, callbacks, successArgs, failureArgs) {
    return promise.then(function (v) {
      if (callbacks && typeof callbacks.success === "function") {
        callbacks.success.apply(callbacks, successArgs ? successArgs(v) : [v]);
      }
      return v;
    }, function (err) {
      if (callbacks && typeof callbacks.failure === "function") {
        callbacks.failure.apply(callbacks, failureArgs ? failureArgs(err) : [err.target, err.message]);
      }
      throw err;
    });
  };

  // _reject is a rejected promise for a failure found before any request
  // (bad argument), given to the callbacks as well.
  K._reject = function (callbacks, message, target, failureArgs) {
    return K._settle(Promise.reject(K._error(message, -1, null, target)), callbacks, null, failureArgs);
  };

  K.bucketWithName = function (name) { return new KiiBucket(name, null); };
  K.encryptedBucketWithName = function (name) { return new KiiBucket(name, null); };

  // serverCodeEntry: server code may not execute server code; the API
  // answers 409 OPERATION_NOT_ALLOWED, which execute() reports.
  K.serverCodeEntry = function (name, version) { return new KiiServerCodeEntry(name, version || "current"); };
  K.serverCodeEntryWithVersion = K.serverCodeEntry;

  return K;
})();

function KiiServerCodeEntry(name, version) {
  this._name = name;
  this._version = version;
  this._token = Kii._inherit();
}
KiiServerCodeEntry.prototype.getEntryName = function () { return this._name; };
KiiServerCodeEntry.prototype.execute = function (args, callbacks) {
  var self = this;
  var p = Kii._request({method: "POST", target: self, body: args || {},
    path: Kii._appPath("/server-code/versions/" + encodeURIComponent(self._version) + "/" + encodeURIComponent(self._name))})
    .then(function (res) { return [self, args, res.json]; });
  return Kii._settle(p, callbacks, function (v) { return v; }, function (e) { return [self, e.message]; });
};

var KiiAnalytics = {getSDKVersion: function () { return Kii.getSDKVersion(); }};

// --- KiiClause and KiiQuery ----------------------------------------------

function KiiClause(json) { this._json = json; }
KiiClause.prototype._dictValue = function () { return this._json; };
KiiClause.equals = function (key, value) { return new KiiClause({type: "eq", field: key, value: value}); };
KiiClause.notEquals = function (key, value) { return KiiClause.not(KiiClause.equals(key, value)); };
KiiClause.greaterThan = function (key, value) { return new KiiClause({type: "range", field: key, lowerLimit: value, lowerIncluded: false}); };
KiiClause.greaterThanOrEqual = function (key, value) { return new KiiClause({type: "range", field: key, lowerLimit: value, lowerIncluded: true}); };
KiiClause.lessThan = function (key, value) { return new KiiClause({type: "range", field: key, upperLimit: value, upperIncluded: false}); };
KiiClause.lessThanOrEqual = function (key, value) { return new KiiClause({type: "range", field: key, upperLimit: value, upperIncluded: true}); };
KiiClause.inClause = function (key, values) { return new KiiClause({type: "in", field: key, values: values}); };
KiiClause.startsWith = function (key, prefix) { return new KiiClause({type: "prefix", field: key, prefix: prefix}); };
KiiClause.hasField = function (key, fieldType) { return new KiiClause({type: "hasField", field: key, fieldType: fieldType}); };
KiiClause.not = function (clause) { return new KiiClause({type: "not", clause: clause._dictValue()}); };
function kiiClauseList(type, args) {
  var list = Array.prototype.slice.call(args);
  if (list.length === 1 && Array.isArray(list[0])) { list = list[0]; }
  return new KiiClause({type: type, clauses: list.map(function (c) { return c._dictValue(); })});
}
KiiClause.and = function () { return kiiClauseList("and", arguments); };
KiiClause.or = function () { return kiiClauseList("or", arguments); };

function KiiQuery(clause) {
  this._clause = clause || null;
  this._orderBy = null;
  this._descending = false;
  this._limit = 0;
  this._paginationKey = null;
}
KiiQuery.queryWithClause = function (clause) { return new KiiQuery(clause); };
KiiQuery.prototype.sortByAsc = function (field) { this._orderBy = field; this._descending = false; };
KiiQuery.prototype.sortByDesc = function (field) { this._orderBy = field; this._descending = true; };
KiiQuery.prototype.setLimit = function (n) { this._limit = n; };
KiiQuery.prototype.getLimit = function () { return this._limit; };
KiiQuery.prototype._clone = function () {
  var q = new KiiQuery(this._clause);
  q._orderBy = this._orderBy; q._descending = this._descending; q._limit = this._limit; q._paginationKey = this._paginationKey;
  return q;
};
// _dictValue is the body of a query request ({bucketQuery, bestEffortLimit, paginationKey}).
KiiQuery.prototype._dictValue = function () {
  var bq = {clause: this._clause ? this._clause._dictValue() : {type: "all"}};
  if (this._orderBy) { bq.orderBy = this._orderBy; bq.descending = this._descending; }
  var d = {bucketQuery: bq};
  if (this._limit > 0) { d.bestEffortLimit = this._limit; }
  if (this._paginationKey) { d.paginationKey = this._paginationKey; }
  return d;
};

// --- KiiBucket ----------------------------------------------------------

// KiiBucket(name, scope): scope is null (the app), or {kind: "users"|"groups"|"things", id}.
function KiiBucket(name, scope) {
  this._name = name;
  this._scope = scope || null;
  this._token = Kii._inherit();
}
KiiBucket.prototype.getBucketName = function () { return this._name; };
KiiBucket.prototype._scopePath = function () { return this._scope ? "/" + this._scope.kind + "/" + encodeURIComponent(this._scope.id) : ""; };
KiiBucket.prototype._path = function (rest) {
  return Kii._appPath(this._scopePath() + "/buckets/" + encodeURIComponent(this._name) + (rest || ""));
};
KiiBucket.prototype._uriPrefix = function () { return "kiicloud:/" + this._scopePath() + "/buckets/" + this._name; };
KiiBucket.prototype.createObject = function () { return new KiiObject(this, null, null); };
KiiBucket.prototype.createObjectWithType = function (type) { return new KiiObject(this, null, type); };
KiiBucket.prototype.createObjectWithID = function (id) { var o = new KiiObject(this, id, null); o._fromID = true; return o; };
KiiBucket.prototype.acl = function () { return KiiACL._forBucket(this); }; // KiiACL: see README.md
KiiBucket.prototype.executeQuery = function (query, callbacks) {
  var self = this;
  query = query || new KiiQuery(null);
  var p = Kii._request({method: "POST", target: self, path: self._path("/query"),
    headers: {"Content-Type": "application/vnd.kii.QueryRequest+json"}, body: query._dictValue()})
    .then(function (res) {
      var j = res.json || {};
      var results = (j.results || []).map(function (d) { return KiiObject._fromJSON(self, d); });
      var next = null;
      if (j.nextPaginationKey) { next = query._clone(); next._paginationKey = j.nextPaginationKey; }
      return [query, results, next];
    });
  return Kii._settle(p, callbacks, function (v) { return v; }, function (e) { return [query, e.message]; });
};
KiiBucket.prototype.countWithQuery = function (query, callbacks) {
  var self = this;
  query = query || new KiiQuery(null);
  var body = query._dictValue();
  delete body.bestEffortLimit; delete body.paginationKey;
  body.bucketQuery.aggregations = [{type: "COUNT", putAggregationInto: "count_field"}];
  var p = Kii._request({method: "POST", target: self, path: self._path("/query"),
    headers: {"Content-Type": "application/vnd.kii.QueryRequest+json"}, body: body})
    .then(function (res) { return [self, query, ((res.json || {}).aggregations || {}).count_field || 0]; });
  return Kii._settle(p, callbacks, function (v) { return v; }, function (e) { return [self, query, e.message]; });
};
KiiBucket.prototype.count = function (callbacks) { return this.countWithQuery(null, callbacks); };
KiiBucket.prototype["delete"] = function (callbacks) {
  var self = this;
  var p = Kii._request({method: "DELETE", target: self, path: self._path("")}).then(function () { return self; });
  return Kii._settle(p, callbacks, null, function (e) { return [self, e.message]; });
};

// --- KiiObject ----------------------------------------------------------

var kiiObjectReserved = {_id: 1, _created: 1, _modified: 1, _owner: 1, _version: 1, _dataType: 1};

function KiiObject(bucket, id, type) {
  this._bucket = bucket;
  this._uuid = id || null;
  this._type = type || null;
  this._fields = {};
  this._dirty = {};
  this._removed = {};
  this._created = 0;
  this._modified = 0;
  this._etag = null;
  this._owner = null;
  this._fromID = false;
  this._token = bucket ? bucket._token : Kii._inherit();
}
// _fromJSON makes an object of bucket from its REST representation.
KiiObject._fromJSON = function (bucket, d) {
  var o = new KiiObject(bucket, d._id, d._dataType);
  o._apply(d);
  return o;
};
KiiObject.prototype._apply = function (d) {
  this._fields = {};
  var keys = Object.keys(d); // own keys, as for-in with hasOwnProperty, without the prototype walk
  for (var i = 0; i < keys.length; i++) {
    var k = keys[i];
    if (kiiObjectReserved.hasOwnProperty(k)) { continue; }
    this._fields[k] = d[k];
  }
  if (d._id) { this._uuid = d._id; }
  if (d._created !== undefined) { this._created = d._created; }
  if (d._modified !== undefined) { this._modified = d._modified; }
  if (d._version !== undefined) { this._etag = String(d._version); }
  if (d._owner !== undefined) { this._owner = d._owner; }
  if (d._dataType) { this._type = d._dataType; }
  this._dirty = {};
  this._removed = {};
  this._fromID = false;
};
// objectWithURI: kiicloud://[users|groups|things/{id}/]buckets/{b}/objects/{id}
// (indexOf, not a regular expression nor split: it is on the hot path of
// endpoints).
var kiiScopeKinds = {users: 1, groups: 1, things: 1};
function kiiURIParts(s) { // s after "kiicloud://", split at "/" (at most 7 parts)
  var p = [], at = 0;
  for (var n = 0; n < 7; n++) {
    var k = s.indexOf("/", at);
    if (k < 0) { p.push(s.substring(at)); return p; }
    p.push(s.substring(at, k));
    at = k + 1;
  }
  return p;
}
KiiObject.objectWithURI = function (uri) {
  var s = String(uri);
  var p = s.lastIndexOf("kiicloud://", 0) === 0 ? kiiURIParts(s.substring(11)) : [];
  var i = p.length === 6 && kiiScopeKinds.hasOwnProperty(p[0]) ? 2 : 0;
  if (p.length !== i + 4 || p[i] !== "buckets" || p[i + 2] !== "objects" || !p[i + 1] || !p[i + 3] || (i && !p[1])) {
    throw Kii._error("Invalid object URI: " + uri, -1, null, null);
  }
  var b = new KiiBucket(p[i + 1], i ? {kind: p[0], id: p[1]} : null);
  return new KiiObject(b, p[i + 3], null);
};
KiiObject.prototype.set = function (key, value) { this._fields[key] = value; this._dirty[key] = true; delete this._removed[key]; };
KiiObject.prototype.get = function (key) { return this._fields[key]; };
KiiObject.prototype.getKeys = function () { return Object.keys(this._fields); };
KiiObject.prototype.remove = function (key) { delete this._fields[key]; delete this._dirty[key]; this._removed[key] = true; };
KiiObject.prototype.getID = function () { return this._uuid; };
KiiObject.prototype.getUUID = function () { return this._uuid; };
KiiObject.prototype.getCreated = function () { return this._created; };
KiiObject.prototype.getModified = function () { return this._modified; };
KiiObject.prototype.getObjectType = function () { return this._type; };
KiiObject.prototype.getBucket = function () { return this._bucket; };
KiiObject.prototype.objectURI = function () { return this._uuid ? this._bucket._uriPrefix() + "/objects/" + this._uuid : null; };
KiiObject.prototype.acl = function () { return KiiACL._forObject(this); }; // KiiACL: see README.md
KiiObject.prototype._path = function () { return this._bucket._path("/objects/" + encodeURIComponent(this._uuid)); };
KiiObject.prototype._body = function (all) {
  var b = {};
  for (var k in this._fields) {
    if (this._fields.hasOwnProperty(k) && (all || this._dirty[k])) { b[k] = this._fields[k]; }
  }
  return b;
};
KiiObject.prototype._contentType = function () {
  return this._type ? "application/vnd." + Kii.getAppID() + "." + this._type + "+json" : "application/json";
};
// _write saves the object: POST when new, PUT (all fields) or PATCH (the
// changed ones) otherwise; overwrite false adds If-Match (or
// If-None-Match: * for an object made with an ID).
KiiObject.prototype._write = function (all, callbacks, overwrite) {
  var self = this;
  var headers = {"Content-Type": self._contentType()};
  var req;
  if (!self._uuid) {
    req = {method: "POST", path: self._bucket._path("/objects"), body: self._body(true)};
  } else if (self._fromID || all || Object.keys(self._removed).length > 0) {
    req = {method: "PUT", path: self._path(), body: self._body(true)};
    if (overwrite === false) {
      if (self._etag) { headers["If-Match"] = self._etag; } else { headers["If-None-Match"] = "*"; }
    }
  } else {
    req = {method: "PATCH", path: self._path(), body: self._body(false)};
    if (overwrite === false && self._etag) { headers["If-Match"] = self._etag; }
  }
  req.target = self;
  req.headers = headers;
  return Kii._call(req, function (res) {
    var j = res.json || {};
    if (req.method === "POST") {
      self._uuid = j.objectID;
      self._created = j.createdAt || 0;
      self._modified = j.createdAt || 0;
    } else {
      if (j.createdAt) { self._created = j.createdAt; }
      self._modified = j.modifiedAt || self._modified;
    }
    if (res.headers.etag) { self._etag = Kii._unquote(res.headers.etag); }
    self._dirty = {};
    self._removed = {};
    self._fromID = false;
    return self;
  }, callbacks, null, function (e) { return [self, e.message]; });
};
KiiObject.prototype.save = function (callbacks, overwrite) { return this._write(false, callbacks, overwrite); };
KiiObject.prototype.saveAllFields = function (callbacks, overwrite) { return this._write(true, callbacks, overwrite); };
KiiObject.prototype.refresh = function (callbacks) {
  var self = this;
  if (!self._uuid) { return Kii._reject(callbacks, "The object has not been saved", self); }
  return Kii._call({method: "GET", target: self, path: self._path()}, function (res) {
    self._apply(res.json || {});
    if (res.headers.etag) { self._etag = Kii._unquote(res.headers.etag); }
    return self;
  }, callbacks, null, function (e) { return [self, e.message]; });
};
KiiObject.prototype["delete"] = function (callbacks) {
  var self = this;
  if (!self._uuid) { return Kii._reject(callbacks, "The object has not been saved", self); }
  return Kii._call({method: "DELETE", target: self, path: self._path()}, function () { return self; },
    callbacks, null, function (e) { return [self, e.message]; });
};
KiiObject.prototype.toJSON = function () {
  var d = this._body(true);
  if (this._uuid) { d._id = this._uuid; }
  return d;
};

// --- KiiAppAdminContext ----------------------------------------------------

// KiiAppAdminContext holds a real app-admin token (_token; _getToken()).
// Everything made through it carries that token. The methods on users,
// groups, things and topics delegate to the classes users.js defines.
function KiiAppAdminContext(token) { this._token = token; }
KiiAppAdminContext.prototype._getToken = function () { return this._token; };
KiiAppAdminContext.prototype.getAccessToken = function () { return this._token; };
KiiAppAdminContext.prototype._as = function (fn) { return Kii._asToken(this._token, fn); };
KiiAppAdminContext.prototype.bucketWithName = function (name) { return this._as(function () { return new KiiBucket(name, null); }); };
KiiAppAdminContext.prototype.encryptedBucketWithName = KiiAppAdminContext.prototype.bucketWithName;
KiiAppAdminContext.prototype.objectWithURI = function (uri) {
  var saved = Kii._override;
  Kii._override = this._token;
  try { return KiiObject.objectWithURI(uri); } finally { Kii._override = saved; }
};
// Delegations: each runs the SDK class's own method with the admin token.
[
  ["userWithID", "KiiUser", "userWithID"],
  ["findUserByEmail", "KiiUser", "findUserByEmail"],
  ["findUserByPhone", "KiiUser", "findUserByPhone"],
  ["findUserByUsername", "KiiUser", "findUserByUsername"],
  ["groupWithID", "KiiGroup", "groupWithID"],
  ["groupWithName", "KiiGroup", "groupWithName"],
  ["groupWithURI", "KiiGroup", "groupWithURI"],
  ["registerGroupWithOwnerAndID", "KiiGroup", "registerGroupWithOwnerAndID"],
  ["thingWithID", "KiiThing", "thingWithID"],
  ["registerThing", "KiiThing", "register"],
  ["loadThingWithThingID", "KiiThing", "loadWithThingID"],
  ["loadThingWithVendorThingID", "KiiThing", "loadWithVendorThingID"],
  ["registerOwnerWithThingID", "KiiThing", "registerOwnerWithThingID"],
  ["registerOwnerWithVendorThingID", "KiiThing", "registerOwnerWithVendorThingID"],
  ["topicWithName", "KiiTopic", "topicWithName"],
  ["listTopics", "KiiTopic", "listTopics"]
].forEach(function (d) {
  KiiAppAdminContext.prototype[d[0]] = function () {
    var args = arguments;
    var cls = globalThis[d[1]]; // looked up when called: users.js may load after this file
    if (!cls || typeof cls[d[2]] !== "function") {
      throw Kii._error("KiiAppAdminContext." + d[0] + " is not available in Kumo's server code (" + d[1] + "." + d[2] + " is missing)", -1, null, this);
    }
    return this._as(function () { return cls[d[2]].apply(cls, args); });
  };
});

// --- $.ajax (jQuery style) ---------------------------------------------

var $ = (function () {
  function header(res, name) {
    var v = res.headers[String(name).toLowerCase()];
    return v === undefined ? null : v;
  }
  function ajax(url, settings) {
    if (typeof url === "object") { settings = url; url = settings.url; }
    settings = settings || {};
    var method = String(settings.type || settings.method || "GET");
    var headers = {};
    var h = settings.headers || {};
    for (var k in h) { if (h.hasOwnProperty(k)) { headers[k] = String(h[k]); } }
    var data = settings.data;
    if (data !== undefined && data !== null && typeof data !== "string") {
      var parts = [];
      for (var dk in data) { if (data.hasOwnProperty(dk)) { parts.push(encodeURIComponent(dk) + "=" + encodeURIComponent(data[dk])); } }
      data = parts.join("&");
      if (method.toUpperCase() === "GET" || method.toUpperCase() === "DELETE") {
        url += (url.indexOf("?") < 0 ? "?" : "&") + data;
        data = null;
      } else if (!settings.contentType) {
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8";
      }
    }
    if (settings.contentType && data !== undefined && data !== null) { headers["Content-Type"] = settings.contentType; }
    if (typeof settings.beforeSend === "function") {
      settings.beforeSend({setRequestHeader: function (n, v) { headers[n] = String(v); }}, settings);
    }
    var ctx = settings.context || settings;
    var p = new Promise(function (resolve, reject) {
      __kii_defer(function () {
        var res, xhr;
        try {
          res = __kii_ajax(method, String(url), headers, data === undefined ? null : data);
        } catch (e) {
          var msg = e && e.message ? e.message : String(e);
          xhr = {status: 0, statusText: "error", responseText: msg, readyState: 4, getResponseHeader: function () { return null; }};
          reject({xhr: xhr, status: "error", error: msg});
          return;
        }
        xhr = {status: res.status, statusText: String(res.status), responseText: res.body, readyState: 4,
          getResponseHeader: function (n) { return header(res, n); },
          getAllResponseHeaders: function () { var s = ""; for (var k in res.headers) { s += k + ": " + res.headers[k] + "\r\n"; } return s; }};
        var value = res.body;
        var ct = header(res, "content-type") || "";
        if (settings.dataType === "json" || (settings.dataType === undefined && /json/i.test(ct))) {
          try { value = res.body === "" ? null : JSON.parse(res.body); xhr.responseJSON = value; } catch (e2) {
            if (settings.dataType === "json") { reject({xhr: xhr, status: "parsererror", error: e2.message}); return; }
          }
        }
        if ((res.status >= 200 && res.status < 300) || res.status === 304) {
          resolve({data: value, status: "success", xhr: xhr});
        } else {
          reject({xhr: xhr, status: "error", error: xhr.statusText});
        }
      });
    });
    var out = p.then(function (r) {
      if (typeof settings.success === "function") { settings.success.call(ctx, r.data, r.status, r.xhr); }
      if (typeof settings.complete === "function") { settings.complete.call(ctx, r.xhr, r.status); }
      return r;
    }, function (r) {
      if (typeof settings.error === "function") { settings.error.call(ctx, r.xhr, r.status, r.error); }
      if (typeof settings.complete === "function") { settings.complete.call(ctx, r.xhr, r.status); }
      throw r;
    });
    out["catch"](function () {}); // failures go to error/fail; never unhandled
    // The jqXHR promise: done/fail/always/then with jQuery's arguments.
    var jq = {
      done: function (f) { out.then(function (r) { f.call(ctx, r.data, r.status, r.xhr); }, function () {}); return jq; },
      fail: function (f) { out.then(null, function (r) { f.call(ctx, r.xhr, r.status, r.error); }); return jq; },
      always: function (f) { out.then(function (r) { f.call(ctx, r.data, r.status, r.xhr); }, function (r) { f.call(ctx, r.xhr, r.status, r.error); }); return jq; },
      then: function (ok, bad) {
        return out.then(function (r) { return ok ? ok(r.data, r.status, r.xhr) : r.data; },
          function (r) { if (bad) { return bad(r.xhr, r.status, r.error); } throw r.xhr; });
      }
    };
    jq["catch"] = function (bad) { return jq.then(null, bad); };
    return jq;
  }
  var jq = function () { throw new Error("Kumo's $ only provides $.ajax"); };
  jq.ajax = ajax;
  jq.get = function (url, data, success, dataType) { return ajax({url: url, type: "GET", data: data, success: success, dataType: dataType}); };
  jq.post = function (url, data, success, dataType) { return ajax({url: url, type: "POST", data: data, success: success, dataType: dataType}); };
  jq.getJSON = function (url, data, success) { return ajax({url: url, type: "GET", data: data, success: success, dataType: "json"}); };
  return jq;
})();
var jQuery = $;

// --- console, require ----------------------------------------------------

var console = (function () {
  function text(args) {
    var parts = [];
    for (var i = 0; i < args.length; i++) {
      var a = args[i];
      if (typeof a === "string") { parts.push(a); continue; }
      if (a instanceof Error) { parts.push(a.stack || String(a)); continue; }
      if (a !== null && typeof a === "object") {
        try { parts.push(JSON.stringify(a)); } catch (e) { parts.push(String(a)); }
        continue;
      }
      parts.push(String(a));
    }
    return parts.join(" ");
  }
  function at(level) { return function () { __kii_log(level, text(arguments)); }; }
  return {log: at("DEBUG"), debug: at("DEBUG"), info: at("INFO"), warn: at("WARN"), error: at("ERROR")};
})();

function require(name) {
  throw new Error("require('" + name + "') is not available in Kumo's server code: put the code you need in the script itself");
}

// --- single native calls that could allocate without bound --------------
// The memory watchdog stops a script between two instructions; one native
// call making a gigantic string or array would not be stopped in time.
(function () {
  var maxString = 1 << 26, maxArray = 1 << 24;
  function guard(proto, name, size) {
    var orig = proto[name];
    Object.defineProperty(proto, name, {configurable: true, writable: true, enumerable: false, value: function () {
      var n = size.apply(this, arguments);
      if (n > (proto === Array ? maxArray : maxString)) {
        throw new RangeError(name + ": the result would be too large for server code");
      }
      return orig.apply(this, arguments);
    }});
  }
  guard(String.prototype, "repeat", function (count) { return String(this).length * Number(count); });
  guard(String.prototype, "padStart", function (len) { return Number(len); });
  guard(String.prototype, "padEnd", function (len) { return Number(len); });
  guard(Array, "from", function (src) { return src && typeof src.length === "number" ? src.length : 0; });
  guard(Array.prototype, "join", function () { return this.length; });
  guard(Array.prototype, "fill", function () { return this.length; });
  // Typed arrays and buffers are allocated whole by their constructor.
  var maxBytes = 1 << 26;
  ["ArrayBuffer", "SharedArrayBuffer", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
   "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"].forEach(function (name) {
    var C = globalThis[name];
    if (typeof C !== "function") { return; }
    var per = C.BYTES_PER_ELEMENT || 1;
    globalThis[name] = new Proxy(C, {construct: function (target, args, newTarget) {
      var n = args[0];
      if (typeof n === "number" && n * per > maxBytes) {
        throw new RangeError(name + " of " + n + " elements: too large for server code");
      }
      return Reflect.construct(target, args, newTarget === globalThis[name] ? target : newTarget);
    }});
  });
})();

// --- no code from strings --------------------------------------------------
// eval is removed; the Function constructors (Function, and those of async
// and generator functions) would compile code the deploy check never saw
// and the step counter never instruments: they throw. instanceof Function
// still works.
(function () {
  function refuse() {
    throw new EvalError("Function() is not available in server code: code is not made from strings (as eval)");
  }
  refuse.prototype = Function.prototype;
  var protos = [Function.prototype];
  try { protos.push(Object.getPrototypeOf(eval("(function* () {})"))); } catch (e) {}
  try { protos.push(Object.getPrototypeOf(eval("(async function () {})"))); } catch (e) {}
  try { protos.push(Object.getPrototypeOf(eval("(async function* () {})"))); } catch (e) {}
  protos.forEach(function (p) {
    Object.defineProperty(p, "constructor", {value: refuse, writable: false, configurable: false, enumerable: false});
  });
  Object.defineProperty(globalThis, "Function", {value: refuse, writable: false, configurable: false, enumerable: false});
})();

// --- the runtime's entry points (called by Go) -----------------------------

// __kii_begin resets the per-run state before each run.
function __kii_begin() {
  Kii._setCurrent(null, null);
  Kii._override = undefined;
  __kii_adminContext = null;
}

var __kii_adminContext = null;

// __kii_makeContext returns the context object endpoints receive (spec §3.3).
function __kii_makeContext() {
  return {
    getAppID: function () { return Kii.getAppID(); },
    getAppKey: function () { return Kii.getAppKey(); },
    getAccessToken: function () { return __kii_accessToken(); },
    getAppAdminContext: function () {
      if (!__kii_adminContext) { __kii_adminContext = new KiiAppAdminContext(__kii_adminToken()); }
      return __kii_adminContext;
    }
  };
}
