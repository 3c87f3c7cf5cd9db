import { describe, expect, it } from "vitest";
import { parseAliyunError, xmlElements, xmlEscape, xmlRoot, xmlText } from "../../../shared/bridges/alibaba/xml.ts";

describe("Alibaba XML reader", () => {
  const doc = `<?xml version="1.0" encoding="UTF-8"?>
<Messages xmlns="http://mq.aliyuncs.com/doc/v1/">
  <Message><MessageId>A</MessageId><MessageBody><![CDATA[a </MessageBody> & <b>]]></MessageBody><MessageTag/></Message>
  <Message><MessageId>B</MessageId><MessageBody>x &lt;y&gt; &amp; &#233;&#x1F600;</MessageBody></Message>
</Messages>`;

  it("reads records, CDATA (even holding a closing tag) and entities", () => {
    const messages = xmlElements(doc, "Message");
    expect(messages).toHaveLength(2);
    expect(xmlText(messages[0], "MessageBody")).toBe("a </MessageBody> & <b>");
    expect(xmlText(messages[0], "MessageTag")).toBe("");
    expect(xmlText(messages[1], "MessageBody")).toBe("x <y> & é😀");
    expect(xmlText(messages[1], "MessageTag")).toBeUndefined();
    expect(xmlRoot(doc)).toBe("Messages");
  });

  it("round-trips escaped text", () => {
    const text = `<a href="x">'&'</a>`;
    expect(xmlText(`<T>${xmlEscape(text)}</T>`, "T")).toBe(text);
  });

  it("parses the service's error document", () => {
    const err = `<?xml version="1.0"?><Error xmlns="http://mns.aliyuncs.com/doc/v1/"><Code>QueueNotExist</Code><Message>The queue name you provided is not exist.</Message><RequestId>R1</RequestId><HostId>http://1.mns</HostId></Error>`;
    expect(parseAliyunError(err)).toEqual({ code: "QueueNotExist", message: "The queue name you provided is not exist.", requestId: "R1" });
    expect(parseAliyunError("<Errors><Error><ErrorCode>X</ErrorCode></Error></Errors>")).toBeUndefined();
  });
});
