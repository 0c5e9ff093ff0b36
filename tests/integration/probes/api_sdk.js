// One AWS SDK for JavaScript v3 call against whatever the environment
// points the SDK at (AWS_ENDPOINT_URL_SES / _SESV2 / _PINPOINT, keys and
// region from AWS_* variables): the way an application is configured.
// Usage: node api_sdk.js CALL  -> prints one JSON line: the response, or
// {"error": name, "status": http status} when the SDK raised.
"use strict";

const { SESv2Client, SendEmailCommand, CreateEmailIdentityCommand } = require("@aws-sdk/client-sesv2");
const { SESClient, SendEmailCommand: V1SendEmail, SendRawEmailCommand, DeleteIdentityCommand } =
	require("@aws-sdk/client-ses");
const { PinpointClient, SendMessagesCommand } = require("@aws-sdk/client-pinpoint");

const simple = { Simple: { Subject: { Data: "js" }, Body: { Text: { Data: "from the JS SDK" } } } };
const raw = "From: billing@example.com\r\nTo: rcpt@example.org\r\nSubject: js raw\r\n\r\nhi\r\n";

const calls = {
	"sesv2-send": () => new SESv2Client({ maxAttempts: 1 }).send(new SendEmailCommand({
		FromEmailAddress: "billing@example.com",
		Destination: { ToAddresses: ["rcpt@example.org"] }, Content: simple })),
	"sesv2-send-ceo": () => new SESv2Client({ maxAttempts: 1 }).send(new SendEmailCommand({
		FromEmailAddress: "ceo@example.net",
		Destination: { ToAddresses: ["rcpt@example.org"] }, Content: simple })),
	"sesv2-create-identity": () => new SESv2Client({ maxAttempts: 1 }).send(
		new CreateEmailIdentityCommand({ EmailIdentity: "evil.example" })),
	"ses-send": () => new SESClient({ maxAttempts: 1 }).send(new V1SendEmail({
		Source: "billing@example.com", Destination: { ToAddresses: ["rcpt@example.org"] },
		Message: { Subject: { Data: "js v1" }, Body: { Text: { Data: "hi" } } } })),
	"ses-raw": () => new SESClient({ maxAttempts: 1 }).send(new SendRawEmailCommand({
		RawMessage: { Data: Buffer.from(raw) } })),
	"ses-delete-identity": () => new SESClient({ maxAttempts: 1 }).send(
		new DeleteIdentityCommand({ Identity: "example.com" })),
	"pinpoint-send": () => new PinpointClient({ maxAttempts: 1 }).send(new SendMessagesCommand({
		ApplicationId: "0123456789abcdef0123456789abcdef",
		MessageRequest: {
			Addresses: { "a@example.org": { ChannelType: "EMAIL" } },
			MessageConfiguration: { EmailMessage: { FromAddress: "billing@example.com",
				SimpleEmail: { Subject: { Data: "pp" }, TextPart: { Data: "t" } } } },
		} })),
};

const call = calls[process.argv[2]];
if (!call) {
	console.error("unknown call " + process.argv[2]);
	process.exit(2);
}
call().then((out) => {
	console.log(JSON.stringify(out));
}, (err) => {
	console.log(JSON.stringify({ error: err.name,
		status: err.$metadata ? err.$metadata.httpStatusCode : null, message: err.message }));
});
