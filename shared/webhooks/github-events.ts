/**
 * GitHub events as knative-extensions/eventing-github maps them (pkg/common/events.go): the CloudEvent
 * subject and the extension attributes taken from each event's payload. Events not listed here still
 * pass (GitHub adds events faster than this table), with the common extensions and no subject.
 */
import type { AttributeValue } from "../cloudevents/event.ts";
import { at, textAt } from "./payload.ts";

export const GITHUB_TYPE_PREFIX = "dev.knative.source.github";

type Extension = readonly [name: string, path: string];
interface GitHubEvent {
  subject: (payload: unknown) => string | undefined;
  extensions: readonly Extension[];
}

const OWNER: Extension = ["owner", "repository.owner.login"];
const ORG_OWNER: Extension = ["owner", "organization.login"];
const REPOSITORY: Extension = ["repository", "repository.name"];
const SENDER: Extension = ["sender", "sender.login"];
const ACTION: Extension = ["action", "action"];
const INSTALLATION: Extension = ["installation", "installation.id"];
const REPO = [OWNER, REPOSITORY, SENDER] as const;
const REPO_ACTION = [...REPO, ACTION] as const;

const field = (path: string) => (p: unknown) => textAt(p, path);
/** The last path segment of a URL field, e.g. `2#issuecomment-393304133` of an issue comment's html_url. */
const lastSegment = (path: string) => (p: unknown) => {
  const url = textAt(p, path);
  return url === undefined ? undefined : url.slice(url.lastIndexOf("/") + 1) || undefined;
};
const pageNames = (p: unknown) => {
  const pages = at(p, "pages");
  return Array.isArray(pages) ? pages.map((page) => textAt(page, "page_name") ?? "").join(",") || undefined : undefined;
};

const INSTALL_EVENT: GitHubEvent = { subject: field("installation.id"), extensions: [INSTALLATION, SENDER, ACTION] };
const ORG_EVENT: GitHubEvent = { subject: field("action"), extensions: [ORG_OWNER, SENDER, ACTION] };

export const GITHUB_EVENTS: Readonly<Record<string, GitHubEvent>> = {
  check_run: { subject: field("check_run.id"), extensions: REPO_ACTION },
  check_suite: { subject: field("check_suite.id"), extensions: REPO_ACTION },
  commit_comment: { subject: lastSegment("comment.html_url"), extensions: REPO_ACTION },
  create: { subject: field("ref_type"), extensions: [...REPO, ["ref", "ref"]] },
  delete: { subject: field("ref_type"), extensions: [...REPO, ["ref", "ref"]] },
  deployment: { subject: field("deployment.id"), extensions: REPO },
  deployment_status: { subject: field("deployment.id"), extensions: REPO },
  discussion: { subject: field("discussion.id"), extensions: REPO },
  fork: { subject: field("forkee.id"), extensions: REPO },
  gollum: { subject: pageNames, extensions: REPO },
  installation: INSTALL_EVENT,
  installation_repositories: INSTALL_EVENT,
  integration_installation: INSTALL_EVENT,
  integration_installation_repositories: INSTALL_EVENT,
  issue_comment: { subject: lastSegment("comment.html_url"), extensions: REPO_ACTION },
  issues: { subject: field("issue.number"), extensions: [...REPO_ACTION, ["label", "label.name"], ["assignee", "assignee.login"]] },
  label: { subject: field("label.name"), extensions: [...REPO_ACTION, ["label", "label.name"]] },
  member: { subject: field("member.id"), extensions: REPO_ACTION },
  membership: { subject: field("member.id"), extensions: [ORG_OWNER, ["scope", "scope"], SENDER, ACTION] },
  milestone: { subject: field("milestone.number"), extensions: REPO_ACTION },
  organization: ORG_EVENT,
  org_block: ORG_EVENT,
  page_build: { subject: field("id"), extensions: REPO },
  ping: { subject: field("hook_id"), extensions: REPO },
  project_card: { subject: field("action"), extensions: REPO_ACTION },
  project_column: { subject: field("action"), extensions: REPO_ACTION },
  project: { subject: field("action"), extensions: REPO_ACTION },
  public: { subject: field("repository.id"), extensions: REPO },
  pull_request: {
    subject: field("pull_request.number"),
    extensions: [OWNER, REPOSITORY, INSTALLATION, SENDER, ACTION, ["number", "number"], ["label", "label.name"], ["assignee", "assignee.login"]],
  },
  pull_request_review_comment: { subject: field("comment.id"), extensions: [OWNER, REPOSITORY, INSTALLATION, SENDER, ACTION] },
  pull_request_review: { subject: field("review.id"), extensions: [OWNER, REPOSITORY, INSTALLATION, SENDER, ACTION, ["review", "review.state"]] },
  push: {
    subject: lastSegment("compare"),
    extensions: [
      OWNER,
      REPOSITORY,
      INSTALLATION,
      SENDER,
      ["pusher", "pusher.name"],
      ["ref", "ref"],
      ["created", "created"],
      ["deleted", "deleted"],
      ["forced", "forced"],
    ],
  },
  release: { subject: field("release.tag_name"), extensions: [OWNER, REPOSITORY, INSTALLATION, SENDER, ACTION, ["release", "release.name"]] },
  repository: { subject: field("repository.id"), extensions: REPO_ACTION },
  repository_vulnerability_alert: { subject: field("alert.id"), extensions: [ACTION] },
  security_advisory: { subject: field("security_advisory.ghsa_id"), extensions: [ACTION] },
  status: { subject: field("sha"), extensions: [...REPO, ["state", "state"], ["name", "name"], ["context", "context"]] },
  team: { subject: field("team.id"), extensions: [SENDER, ACTION] },
  team_add: { subject: field("repository.id"), extensions: REPO },
  watch: { subject: field("repository.id"), extensions: REPO_ACTION },
};

const UNLISTED: GitHubEvent = { subject: () => undefined, extensions: [...REPO_ACTION, INSTALLATION] };

/** CloudEvents integers are 32-bit: larger GitHub ids travel as their decimal text. */
const INT32_MAX = 2 ** 31 - 1;

export function githubSubjectAndExtensions(event: string, payload: unknown): { subject?: string; extensions: Record<string, AttributeValue> } {
  const spec = GITHUB_EVENTS[event] ?? UNLISTED;
  const extensions: Record<string, AttributeValue> = {};
  for (const [name, path] of spec.extensions) {
    const value = at(payload, path);
    if (typeof value === "boolean") extensions[name] = value;
    else if (typeof value === "number" && Number.isInteger(value)) extensions[name] = Math.abs(value) <= INT32_MAX ? value : String(value);
    else if (typeof value === "string" && value !== "") extensions[name] = value;
  }
  return { subject: spec.subject(payload), extensions };
}
