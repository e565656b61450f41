/** The 35 Speech Commands v2 labels in the official class-index order (specs/lmuformer.md). */
export const SPEECH_COMMANDS_LABELS: readonly string[] = Object.freeze([
  'backward', 'bed', 'bird', 'cat', 'dog', 'down', 'eight', 'five', 'follow', 'forward', 'four', 'go',
  'happy', 'house', 'learn', 'left', 'marvin', 'nine', 'no', 'off', 'on', 'one', 'right', 'seven',
  'sheila', 'six', 'stop', 'three', 'tree', 'two', 'up', 'visual', 'wow', 'yes', 'zero',
]);

/** Default labels for a classifier with `classes` outputs. */
export function defaultLabels(classes: number): string[] {
  return classes === SPEECH_COMMANDS_LABELS.length ? [...SPEECH_COMMANDS_LABELS] : Array.from({ length: classes }, (_, i) => `class_${i}`);
}
