// The server code TestJSSDKServerCode deploys before servercode_test.js
// calls it with Kii's JavaScript SDK.

function echo(params, context) {
  return params.message;
}

function keys(params, context) {
  return Object.keys(params);
}

function whoami(params, context, done) {
  var token = context.getAccessToken();
  if (token === null) {
    done(null);
    return;
  }
  KiiUser.authenticateWithToken(token).then(function (user) {
    done(user.getID());
  }, function (error) {
    done("error: " + error.message);
  });
}

function saveNote(params, context, done) {
  KiiUser.authenticateWithToken(context.getAccessToken()).then(function (user) {
    var o = user.bucketWithName("notes").createObject();
    o.set("text", params.text);
    return o.save();
  }).then(function (o) {
    done(o.getID());
  }, function (error) {
    done("error: " + error.message);
  });
}

function later(params, context, done) {
  Promise.resolve(params.n * 2).then(function (v) { done(v); });
}

function fails(params, context) {
  throw new Error("broken on purpose");
}
