/**
 * The sample rates edgestream accepts anywhere audio comes in (WAV headers, raw PCM options, a
 * model's front end). 4 kHz is below every real recording format (telephony is 8 kHz); 384 kHz is
 * the top of what recording hardware and formats offer (DXD 352.8 kHz, 384 kHz). The floor bounds
 * the work a file can cause: resampling to a model's rate makes at most 384000 / 4000 = 96 output
 * samples per input sample (4 for a 16 kHz model), so a few bytes can never become hours of audio.
 */
export const MIN_SAMPLE_RATE = 4_000;
export const MAX_SAMPLE_RATE = 384_000;

/** Whether `rate` is an integer rate edgestream accepts. */
export function isAcceptedSampleRate(rate: unknown): rate is number {
  return typeof rate === 'number' && Number.isInteger(rate) && rate >= MIN_SAMPLE_RATE && rate <= MAX_SAMPLE_RATE;
}
