// infra/alarm-topic.ts alone under mocks: one topic; an e-mail subscription only when an address is given.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AlarmTopic } from "../infra/alarm-topic.js";
import { declare } from "./infra/component.js";

const d = await declare(() => {
  new AlarmTopic("alarms", { email: "ops@example.com", tags: { team: "data" } });
  new AlarmTopic("silent", {});
});

test("a topic per component, tagged", () => {
  assert.equal(
    d
      .byType("aws:sns/topic:Topic")
      .map((t) => t.name)
      .sort(),
    ["alarms", "silent"],
  );
  assert.equal(d.one("aws:sns/topic:Topic", "alarms").inputs.tags, { team: "data" });
});

test("the address is subscribed by e-mail to its own topic; no address, no subscription", () => {
  const subs = d.byType("aws:sns/topicSubscription:TopicSubscription");
  assert.is(subs.length, 1);
  assert.equal(
    { protocol: subs[0]!.inputs.protocol, endpoint: subs[0]!.inputs.endpoint, topic: subs[0]!.inputs.topic },
    { protocol: "email", endpoint: "ops@example.com", topic: d.one("aws:sns/topic:Topic", "alarms").props.arn },
  );
});

test.run();
