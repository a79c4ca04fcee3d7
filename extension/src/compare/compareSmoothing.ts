// The smoothing slider of the Compare panel's line charts: TensorBoard's debiased exponential
// moving average, so curves read the same as in TensorBoard. Pure code, unit-tested.
import { MAX_SMOOTHING } from "./compareContract";

/** A slider value made safe: a number in [0, MAX_SMOOTHING] (1 would freeze the first value). */
export function clampSmoothing(weight: number): number {
  if (!Number.isFinite(weight) || weight <= 0) {
    return 0;
  }
  return Math.min(weight, MAX_SMOOTHING);
}

/**
 * Smooths `values` in order. Like TensorBoard, the average starts at 0 and each output is divided
 * by 1 - weight^n (n finite values seen so far), so the first points are not dragged towards 0;
 * a non-finite or missing value stays as it is and does not enter the average; a constant series
 * stays exactly constant (the division would otherwise leave rounding noise on it).
 */
export function smoothValues(values: readonly (number | null)[], weight: number): (number | null)[] {
  const w = clampSmoothing(weight);
  if (w === 0) {
    return [...values];
  }
  const finite = values.filter((value): value is number => value !== null && Number.isFinite(value));
  const constant = finite.length > 0 && finite.every((value) => value === finite[0]);
  if (constant) {
    return [...values];
  }
  let last = 0;
  let decay = 1; // w to the power of the finite values seen so far
  return values.map((value) => {
    if (value === null || !Number.isFinite(value)) {
      return value;
    }
    last = last * w + (1 - w) * value;
    decay *= w;
    return last / (1 - decay);
  });
}
