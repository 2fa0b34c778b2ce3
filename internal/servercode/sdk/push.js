// Kumo's implementation of the Kii JavaScript SDK (v2 API) for server
// code: KiiTopic, KiiPushMessageBuilder and KiiPushSubscription. Written
// for Kumo on core.js's request bridge (README.md); it shares no code with
// Kii's SDK.
"use strict";

// KiiTopic(scopePath, name): scopePath is "" (the app) or
// "/users/{id}", "/groups/{id}", "/things/{id}".
function KiiTopic(scopePath, name) {
  this._scopePath = scopePath || "";
  this._name = name;
  this._token = Kii._inherit();
}

// kiiTopic is owner's topic name: it takes the owner's token.
function kiiTopic(owner, kind, id, name) {
  var t = new KiiTopic("/" + kind + "/" + encodeURIComponent(id), name);
  t._token = owner._token;
  return t;
}

// kiiListTopics lists the topics of a scope (its API path):
// success(topics, nextPaginationKey); the promise the array.
function kiiListTopics(owner, scopeAPIPath, callbacks, paginationKey) {
  var q = paginationKey ? "?paginationKey=" + encodeURIComponent(paginationKey) : "";
  var scopePath = scopeAPIPath.substring(Kii._appPath("").length);
  var p = Kii._request({method: "GET", path: scopeAPIPath + "/topics" + q, target: owner}).then(function (res) {
    var j = res.json || {};
    var ts = j.topics || [];
    var list = [];
    for (var i = 0; i < ts.length; i++) {
      var t = new KiiTopic(scopePath, ts[i].topicID);
      t._token = owner._token;
      list.push(t);
    }
    return [list, j.paginationKey || null];
  });
  return Kii._settle(p, callbacks, kiiSpread, kiiErrorFailure);
}

// topicWithName is an app-scope topic; listTopics lists them.
KiiTopic.topicWithName = function (name) { return new KiiTopic("", name); };
KiiTopic.listTopics = function (callbacks, paginationKey) {
  return kiiListTopics({_token: Kii._inherit()}, Kii._appPath(""), callbacks, paginationKey);
};
Kii.topicWithName = KiiTopic.topicWithName;
Kii.listTopics = KiiTopic.listTopics;

KiiTopic.prototype.getName = function () { return this._name; };
KiiTopic.prototype.getPath = function () { return this._scopePath + "/topics/" + encodeURIComponent(this._name); };
KiiTopic.prototype._path = function (rest) { return Kii._appPath(this.getPath() + (rest || "")); };
KiiTopic.prototype.acl = function () { return KiiACL._forTopic(this); };
// toJSON is the topic as JSON.stringify shows it (never a token).
KiiTopic.prototype.toJSON = function () { return {topicID: this._name, path: this.getPath()}; };

// exists: success(existed).
KiiTopic.prototype.exists = function (callbacks) {
  var self = this;
  var p = Kii._request({method: "HEAD", path: self._path(), target: self}).then(function () { return true; }, function (e) {
    if (e.status === 404) { return false; }
    throw e;
  });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};

KiiTopic.prototype.save = function (callbacks) {
  var self = this;
  var p = Kii._request({method: "PUT", path: self._path(), target: self}).then(function () { return self; });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};

KiiTopic.prototype.deleteTopic = function (callbacks) {
  var self = this;
  var p = Kii._request({method: "DELETE", path: self._path(), target: self}).then(function () { return self; });
  return Kii._settle(p, callbacks, null, kiiErrorFailure);
};

// sendMessage(message): message as KiiPushMessageBuilder.build() makes
// it; success(topic, message), the promise [topic, message]. Kumo's
// pushMessageID is put on the message.
KiiTopic.prototype.sendMessage = function (message, callbacks) {
  var self = this;
  var p = Kii._request({method: "POST", path: self._path("/push/messages"), target: self, body: message || {},
    headers: {"Content-Type": "application/vnd.kii.SendPushMessageRequest+json"}})
    .then(function (res) {
      if (message && res.json && res.json.pushMessageID) { message.pushMessageID = res.json.pushMessageID; }
      return [self, message];
    });
  return Kii._settle(p, callbacks, kiiSpread, kiiErrorFailure);
};

// KiiPushMessageBuilder(data) builds a push message: data to every
// channel, every channel enabled and both environments unless changed.
function KiiPushMessageBuilder(data) {
  this._m = {
    data: data || {},
    sendToDevelopment: true,
    sendToProduction: true,
    gcm: {enabled: true},
    apns: {enabled: true},
    jpush: {enabled: true},
    mqtt: {enabled: true}
  };
}
KiiPushMessageBuilder.prototype.build = function () { return JSON.parse(JSON.stringify(this._m)); };
function kiiBuilderFlag(key) {
  return function (flag) { this._m[key] = !!flag; return this; };
}
function kiiBuilderField(channel, key, convert) {
  return function (v) { this._m[channel][key] = convert ? convert(v) : v; return this; };
}
function kiiPositive(v) { return v > 0; }
function kiiBool(v) { return !!v; }
KiiPushMessageBuilder.prototype.setSendToDevelopment = kiiBuilderFlag("sendToDevelopment");
KiiPushMessageBuilder.prototype.setSendToProduction = kiiBuilderFlag("sendToProduction");
KiiPushMessageBuilder.prototype.setSendAppID = kiiBuilderFlag("sendAppID");
KiiPushMessageBuilder.prototype.setSendSender = kiiBuilderFlag("sendSender");
KiiPushMessageBuilder.prototype.setSendWhen = kiiBuilderFlag("sendWhen");
KiiPushMessageBuilder.prototype.setSendOrigin = kiiBuilderFlag("sendOrigin");
KiiPushMessageBuilder.prototype.setSendObjectScope = kiiBuilderFlag("sendObjectScope");
KiiPushMessageBuilder.prototype.setSendTopicID = kiiBuilderFlag("sendTopicID");
KiiPushMessageBuilder.prototype.setPushMessageType = function (type) { this._m.pushMessageType = String(type); return this; };
KiiPushMessageBuilder.prototype.enableGcm = kiiBuilderField("gcm", "enabled", kiiBool);
KiiPushMessageBuilder.prototype.enableApns = kiiBuilderField("apns", "enabled", kiiBool);
KiiPushMessageBuilder.prototype.enableJpush = kiiBuilderField("jpush", "enabled", kiiBool);
KiiPushMessageBuilder.prototype.enableMqtt = kiiBuilderField("mqtt", "enabled", kiiBool);
KiiPushMessageBuilder.prototype.gcmData = kiiBuilderField("gcm", "data");
KiiPushMessageBuilder.prototype.gcmCollapseKey = kiiBuilderField("gcm", "collapseKey");
KiiPushMessageBuilder.prototype.gcmDelayWhileIdle = kiiBuilderField("gcm", "delayWhileIdle", kiiBool);
KiiPushMessageBuilder.prototype.gcmTimeToLive = kiiBuilderField("gcm", "timeToLive");
KiiPushMessageBuilder.prototype.gcmRestrictedPackageName = kiiBuilderField("gcm", "restrictedPackageName");
KiiPushMessageBuilder.prototype.apnsData = kiiBuilderField("apns", "data");
KiiPushMessageBuilder.prototype.apnsAlert = kiiBuilderField("apns", "alert");
KiiPushMessageBuilder.prototype.apnsSound = kiiBuilderField("apns", "sound");
KiiPushMessageBuilder.prototype.apnsBadge = kiiBuilderField("apns", "badge");
KiiPushMessageBuilder.prototype.apnsContentAvailable = kiiBuilderField("apns", "contentAvailable", kiiPositive);
KiiPushMessageBuilder.prototype.apnsCategory = kiiBuilderField("apns", "category");
KiiPushMessageBuilder.prototype.apnsMutableContent = kiiBuilderField("apns", "mutableContent", kiiPositive);
KiiPushMessageBuilder.prototype.jpushData = kiiBuilderField("jpush", "data");
KiiPushMessageBuilder.prototype.mqttData = kiiBuilderField("mqtt", "data");

// KiiPushSubscription subscribes its user or thing to buckets and topics.
function KiiPushSubscription(subscriber) { this._subscriber = subscriber; }
KiiPushSubscription.prototype.toJSON = function () { return {subscriber: this._subscriber}; };

KiiPushSubscription.prototype._path = function (target) {
  var s = this._subscriber;
  var seg = s instanceof KiiThing ? "things/" + encodeURIComponent(s.getThingID()) : "users/" + encodeURIComponent(s.getID());
  if (target instanceof KiiTopic) { return target._path("/push/subscriptions/" + seg); }
  return target._path("/filters/all/push/subscriptions/" + seg); // a KiiBucket
};

// _target carries the token: the subscriber's own when it logged in (a
// thing context's), else the subscriber's.
KiiPushSubscription.prototype._target = function () {
  var s = this._subscriber;
  if (s instanceof KiiThing && s._accessToken) { return {_token: s._accessToken}; }
  return s;
};

KiiPushSubscription.prototype._call = function (method, target, value, callbacks) {
  var self = this;
  var p = Kii._request({method: method, path: self._path(target), target: self._target()}).then(function () { return value; });
  return Kii._settle(p, callbacks, kiiSpread, kiiErrorFailure);
};

// subscribe(target), unsubscribe(target): success(subscription, target);
// the promise the array.
KiiPushSubscription.prototype.subscribe = function (target, callbacks) { return this._call("PUT", target, [this, target], callbacks); };
KiiPushSubscription.prototype.unsubscribe = function (target, callbacks) { return this._call("DELETE", target, [this, target], callbacks); };

// isSubscribed(target): success(subscription, target, subscribed).
KiiPushSubscription.prototype.isSubscribed = function (target, callbacks) {
  var self = this;
  var p = Kii._request({method: "GET", path: self._path(target), target: self._target()}).then(function () {
    return [self, target, true];
  }, function (e) {
    if (e.errorCode === "PUSH_SUBSCRIPTION_NOT_FOUND") { return [self, target, false]; }
    throw e;
  });
  return Kii._settle(p, callbacks, kiiSpread, kiiErrorFailure);
};
