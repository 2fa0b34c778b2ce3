# The founding document's commands (../shared/seed/), as written there:
# only the Kii host is replaced by $KUMO_BASE, the ¥ line continuations by
# \, and the {placeholders} are filled in by TestSeedVerbatim. The seed's
# own spacing quirks ("{APP_ID }") are kept; the test fills those too.
# Each step is a shell function; the test runs them one by one.

step_install() {
curl -v -X POST \
-H "Authorization: Bearer {ACCESS_TOKEN}" \
-H "X-Kii-AppID: {APP_ID }" \
-H "X-Kii-AppKey: {APP_KEY}" \
-H "Content-Type: application/vnd.kii.InstallationCreationRequest+json" \
"$KUMO_BASE/api/apps/{APP_ID }/installations" \
-d '{
"deviceType": "MQTT",
"development": true
}'
}

step_check_install() {
curl -v -X GET \
-H "Authorization: Bearer {ACCESS_TOKEN}" \
-H "X-Kii-AppID: {APP_ID }" \
-H "X-Kii-AppKey: {APP_KEY}" \
"$KUMO_BASE/api/apps/{APP_ID }/installations/{installationID}"
}

step_subscribe() {
curl -v -X PUT \
-H "Authorization: Bearer {ACCESS_TOKEN}" \
-H "X-Kii-AppID: {APP_ID}" \
-H "X-Kii-AppKey: {APP_KEY}" \
"$KUMO_BASE/api/apps/{APP_KEY}/things/{Things_ID}/buckets/test/filters/all/push/subscriptions/things/{Things_ID}" \
-d ""
}

step_check_subscription() {
curl -v -X GET \
-H "Authorization: Bearer {ACCESS_TOKEN}" \
-H "X-Kii-AppID: {APP_ID }" \
-H "X-Kii-AppKey: {APP_KEY}" \
"$KUMO_BASE/api/apps/{APP_ID}/buckets/test/filters/all/push/subscriptions/things/{Things_ID}"
}

step_endpoint() {
curl -v -X GET \
-H "Authorization: Bearer {ACCESS_TOKEN}" \
-H "X-Kii-AppID: {APP_ID}" \
-H "X-Kii-AppKey: {APP_KEY}" \
"$KUMO_BASE/api/apps/{APP_ID}/installations/{installationID}/mqtt-endpoint"
}

step_subscribe_mqtt() {
mosquitto_sub -d -h {host} -u {username} -t "{mqttTopic}" -P {password} -i "{mqttTopic}"
}

step_push() {
curl -v -X POST \
-H "Authorization: Bearer {ACCESS_TOKEN}" \
-H "X-Kii-AppID: {APP_ID}" \
-H "X-Kii-AppKey: {APP_KEY}" \
-H "Content-Type: application/vnd.{APP_ID}.mydata+json" \
"$KUMO_BASE/api/apps/{APP_ID}/things/{THING_ID}/buckets/test/objects" \
-d '{"score": "1800", "name": "game1"}'
}
