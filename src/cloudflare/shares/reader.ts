/**
 * Who reads a share's recipients or resources: only its owner, or also an account that receives it
 * (associating or associated). Stores check it in the statement that reads the page or the object, so
 * the check costs no statement of its own.
 */
export interface ShareReader {
  accountId: string;
  as: 'owner' | 'owner-or-recipient';
}
