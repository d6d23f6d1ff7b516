// Reads a Teams webhook body (a message with one Adaptive Card attachment) on standard input and
// checks the card with the Adaptive Cards library: every parse and validation event is printed,
// and the exit code is 1 when there is any, 2 when the body is not such a message.
const AC = require("adaptivecards/dist/adaptivecards.js");

const message = JSON.parse(require("fs").readFileSync(0, "utf8"));
const attachment = (message.attachments || [])[0];
if (!attachment || attachment.contentType !== "application/vnd.microsoft.card.adaptive") {
  console.log("not a message with an Adaptive Card attachment");
  process.exit(2);
}
const context = new AC.SerializationContext();
const card = new AC.AdaptiveCard();
card.parse(attachment.content, context);
const problems = [];
for (let i = 0; i < context.eventCount; i++) {
  const e = context.getEventAt(i);
  problems.push(`${AC.ValidationEvent[e.event]}: ${e.message}`);
}
for (const e of card.validateProperties().validationEvents) {
  problems.push(`${AC.ValidationEvent[e.event]}: ${e.message}`);
}
console.log(JSON.stringify({ version: attachment.content.version, problems }));
process.exit(problems.length ? 1 : 0);
