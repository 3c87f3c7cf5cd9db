import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../../durable-objects/broker/group-commit.ts";

/** A group commit whose writes are recorded and whose scheduled flush runs when the test says. */
function harness(fail: (items: string[]) => boolean = () => false) {
  const writes: string[][] = [];
  let scheduled = 0;
  const commits: GroupCommit<string> = new GroupCommit<string>(
    (items) => {
      if (fail(items)) throw new Error(`refused ${items.join(",")}`);
      writes.push(items);
    },
    () => scheduled++,
  );
  return { commits, writes, scheduled: () => scheduled };
}

describe("GroupCommit", () => {
  it("gathers the callers of a turn into one write, scheduled once, and answers each after it", async () => {
    const { commits, writes, scheduled } = harness();
    let answered = 0;
    const stored = ["a", "b", "c"].map((x) => commits.add(x).then(() => answered++));
    await Promise.resolve();
    expect({ writes, scheduled: scheduled(), answered }).toEqual({ writes: [], scheduled: 1, answered: 0 });
    commits.flush();
    await Promise.all(stored);
    expect({ writes, answered }).toEqual({ writes: [["a", "b", "c"]], answered: 3 });
    // The next turn's callers schedule a write of their own.
    const next = commits.add("d");
    expect(scheduled()).toBe(2);
    commits.flush();
    await next;
    expect(writes).toEqual([["a", "b", "c"], ["d"]]);
  });

  it("fails only the caller whose items the write refuses", async () => {
    const { commits, writes } = harness((items) => items.includes("bad"));
    const outcomes = ["x", "bad", "y"].map((x) =>
      commits.add(x).then(
        () => "stored",
        (e: Error) => e.message,
      ),
    );
    commits.flush();
    expect(await Promise.all(outcomes)).toEqual(["stored", "refused bad", "stored"]);
    expect(writes).toEqual([["x"], ["y"]]);
  });
});
