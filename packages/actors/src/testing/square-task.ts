/**
 * Fixture pool task: squares a number (optionally after a delay).
 */
export default async function square(input: { value: number; delayMs?: number }): Promise<number> {
  if (input.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, input.delayMs));
  return input.value * input.value;
}
