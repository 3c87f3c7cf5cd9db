/** Subjects and extensions as knative-extensions/eventing-github derives them from GitHub payloads. */
import { describe, expect, it } from "vitest";
import { githubSubjectAndExtensions } from "../../../shared/webhooks/github-events.ts";

const repo = { id: 1296269, name: "Hello-World", owner: { login: "Codertocat" } };
const sender = { login: "Codertocat" };

describe("githubSubjectAndExtensions", () => {
  it("push: the compare range as subject, pusher/ref/flags as extensions", () => {
    const push = {
      ref: "refs/tags/simple-tag",
      compare: "https://github.com/Codertocat/Hello-World/compare/a10867b14bb7...000000000000",
      created: false,
      deleted: true,
      forced: false,
      pusher: { name: "Codertocat" },
      repository: repo,
      sender,
    };
    expect(githubSubjectAndExtensions("push", push)).toEqual({
      subject: "a10867b14bb7...000000000000",
      extensions: {
        owner: "Codertocat",
        repository: "Hello-World",
        sender: "Codertocat",
        pusher: "Codertocat",
        ref: "refs/tags/simple-tag",
        created: false,
        deleted: true,
        forced: false,
      },
    });
  });

  it("issue_comment: the last path segment of the comment URL", () => {
    const payload = {
      action: "created",
      comment: { html_url: "https://github.com/Codertocat/Hello-World/issues/2#issuecomment-393304133" },
      repository: repo,
      sender,
    };
    expect(githubSubjectAndExtensions("issue_comment", payload).subject).toBe("2#issuecomment-393304133");
  });

  it("pull_request: number subject; ids over 32 bits travel as text; absent values are left out", () => {
    const payload = { action: "opened", number: 2, pull_request: { number: 2 }, installation: { id: 2 ** 33 }, repository: repo, sender, label: null };
    expect(githubSubjectAndExtensions("pull_request", payload)).toEqual({
      subject: "2",
      extensions: { owner: "Codertocat", repository: "Hello-World", installation: "8589934592", sender: "Codertocat", action: "opened", number: 2 },
    });
  });

  it("membership: the organization is the owner", () => {
    const payload = { action: "added", scope: "team", member: { id: 21031067 }, organization: { login: "Octocoders" }, sender };
    expect(githubSubjectAndExtensions("membership", payload)).toEqual({
      subject: "21031067",
      extensions: { owner: "Octocoders", scope: "team", sender: "Codertocat", action: "added" },
    });
  });

  it("an event the table does not list passes with the common extensions and no subject", () => {
    expect(githubSubjectAndExtensions("workflow_run", { action: "completed", repository: repo, sender })).toEqual({
      subject: undefined,
      extensions: { owner: "Codertocat", repository: "Hello-World", sender: "Codertocat", action: "completed" },
    });
  });
});
