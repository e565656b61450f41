/**
 * One queue of pending drains shared by every `boundedBuffer` in the process, run in arrival
 * order for at most `TURN_BUDGET_MS` per turn of the event loop; the rest wait for the next turn
 * (`setImmediate`, i.e. after pending I/O). With a thousand device queues ready at once, Node
 * would otherwise run all their drains in one check phase, and for that whole time the process
 * reads no socket, answers no health check, sends no MQTT keepalive and handles no SIGTERM.
 */

/** Longest stretch of drains between two polls for I/O. */
export const TURN_BUDGET_MS = 10;

interface Pending {
  run: () => void;
  cancelled: boolean;
}

const queue: Pending[] = [];
let head = 0;
let scheduled: NodeJS.Immediate | null = null;

function runTurn(): void {
  scheduled = null;
  const until = performance.now() + TURN_BUDGET_MS;
  // Only the drains queued before this turn: one that re-queues itself goes to the back.
  const end = queue.length;
  while (head < end) {
    const p = queue[head]!;
    queue[head++] = undefined as unknown as Pending;
    if (!p.cancelled) p.run();
    if (performance.now() >= until) break;
  }
  if (head === queue.length) {
    queue.length = 0;
    head = 0;
  } else if (head > 1024 && head * 2 > queue.length) {
    queue.splice(0, head);
    head = 0;
  }
  if (queue.length > head && !scheduled) scheduled = setImmediate(runTurn);
}

/** Run `drain` on a coming turn, fairly among all pending drains. Returns a cancel function. */
export function scheduleDrain(drain: () => void): () => void {
  const p: Pending = { run: drain, cancelled: false };
  queue.push(p);
  if (!scheduled) scheduled = setImmediate(runTurn);
  return () => {
    p.cancelled = true;
  };
}
