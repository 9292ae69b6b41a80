import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Memory tests compare memory after full collections; the flag is set at run time so the test files
// need no node option of their own (a context made after it sees the `gc` global).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Bytes the process still holds (V8 heap plus Buffers and other external memory) after full collections.
 * Buffers' memory is released after the collection that frees them, in the background: a few rounds
 * with a pause between let it settle, or the count includes garbage.
 */
export async function heldBytes(): Promise<number> {
  for (let round = 0; round < 4; round++) {
    gc();
    await sleep(20);
  }
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}
