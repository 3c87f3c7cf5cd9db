import { describe, expect, it } from "vitest";
import { parseAliyunError, xmlElements, xmlEscape, xmlRoot, xmlText } from "../../../../shared/bridges/alibaba/xml.ts";

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

describe("Alibaba XML reader on hostile input", () => {
  // The old patterns backtracked: 20 unterminated CDATA sections took about 3 s.
  const hostile = [
    `<Messages><Message><MessageBody>${"<![CDATA[x".repeat(20_000)}</MessageBody></Message></Messages>`,
    `<Messages>${"<Message".repeat(50_000)}`,
    `<Messages><Message>${"<".repeat(100_000)}`,
    `${"<?".repeat(50_000)}<Messages/>`,
    `<T>${"&#x1F600".repeat(50_000)}${"<![CDATA[".repeat(50_000)}</T>`,
  ];

  it("reads each in linear time", () => {
    const started = performance.now();
    for (const xml of hostile) {
      xmlRoot(xml);
      for (const m of xmlElements(xml, "Message")) xmlText(m, "MessageBody");
      xmlText(xml, "T");
    }
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("keeps an unterminated CDATA section as text and still finds the closing tag", () => {
    const [message] = xmlElements(`<Message><Body>a<![CDATA[b</Body></Message>`, "Message");
    expect(xmlText(message, "Body")).toBe("a<![CDATA[b");
    expect(xmlElements(`<Message><Body>no end`, "Message")).toEqual([]);
    expect(xmlRoot(`<?xml unterminated`)).toBeUndefined();
    expect(xmlText("<T>&#x110000; &bogus; &#65;</T>", "T")).toBe("&#x110000; &bogus; A");
  });
});
