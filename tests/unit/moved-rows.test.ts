// A reshard's own writes and deletes are told apart from the service's on the streams
// (shared/store/moved-rows.ts): its copies must not fan a post out again, and its deletes of moved
// rows must not read as deletions; the mark it leaves is never seen by a read or a consumer.
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetConfig } from '../../shared/edge/config.js';
import { mintId } from '../../shared/domain/ids.js';
import { assign, initialShardMap } from '../../shared/domain/shard-map.js';
import { tableName } from '../../shared/declarations/tables.js';
import { hideMoveMarks, isMoverChange, MOVE_ATTR, moveMark, tableOfStreamArn } from '../../shared/store/moved-rows.js';
import { resetShardMap, writeShardMapCopy } from '../../shared/store/shard-map.js';
import { serviceChange } from '../../shared/services/stream-changes.js';

beforeEach(() => {
  process.env.FEED_SHARDS = '32';
  resetConfig();
  resetShardMap();
});
afterEach(() => resetShardMap());

const arnOf = (table: string) => `arn:aws:dynamodb:us-east-1:000000000000:table/${table}/stream/2026-11-30T00:00:00.000`;
/** A post on logical shard 64: table 0 in the 32-table layout, table 32 once moved. */
const postId = mintId(64);
const post = { postId, authorId: postId, content: 'x', createdAt: '2026-11-30T00:00:00.000Z' };

function record(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', table: number, images: { newImage?: object; oldImage?: object }): DynamoDBRecord {
  return {
    eventID: '1',
    eventName,
    eventSourceARN: arnOf(tableName('posts', table)),
    dynamodb: {
      Keys: marshall({ postId }),
      ...(images.newImage && { NewImage: marshall(images.newImage) }),
      ...(images.oldImage && { OldImage: marshall(images.oldImage) }),
    },
  } as unknown as DynamoDBRecord;
}

/** The 32-table map with logical shard 64 moved to table 32. */
function moved() {
  const base = initialShardMap(32);
  writeShardMapCopy({ ...base, version: 2, tables: 64, ranges: assign(base, 64, 64, 32) });
}

describe('telling the mover’s changes from the service’s', () => {
  it('names the entity and shard of a table from its stream ARN, and nothing for another prefix', () => {
    expect(tableOfStreamArn(arnOf(tableName('posts', 33)))).toEqual({ entity: 'posts', shard: 33 });
    expect(tableOfStreamArn(arnOf(tableName('feeds', 0)))).toEqual({ entity: 'feeds', shard: 0 });
    expect(tableOfStreamArn(arnOf('other-Posts_1'))).toBeUndefined();
    expect(tableOfStreamArn(undefined)).toBeUndefined();
  });

  it('takes a put that brings a new mark for the mover’s copy, and the service’s writes as its own', async () => {
    writeShardMapCopy(initialShardMap(32));
    const mark = moveMark();
    expect(await isMoverChange(record('INSERT', 32, { newImage: { ...post, [MOVE_ATTR]: mark } }))).toBe(true);
    // A copy over an older copy (a resumed move) brings another mark.
    expect(await isMoverChange(record('MODIFY', 32, { newImage: { ...post, [MOVE_ATTR]: moveMark() }, oldImage: { ...post, [MOVE_ATTR]: mark } }))).toBe(true);
    // The service's update of a copied row keeps its mark; its put drops it.
    expect(await isMoverChange(record('MODIFY', 32, { newImage: { ...post, content: 'y', [MOVE_ATTR]: mark }, oldImage: { ...post, [MOVE_ATTR]: mark } }))).toBe(false);
    expect(await isMoverChange(record('MODIFY', 32, { newImage: post, oldImage: { ...post, [MOVE_ATTR]: mark } }))).toBe(false);
    expect(await isMoverChange(record('INSERT', 0, { newImage: post }))).toBe(false);
  });

  it('counts a delete only from the table that holds the row by the shard map', async () => {
    moved();
    // --finish deletes the moved row from its old table: not a deletion of the post.
    expect(await isMoverChange(record('REMOVE', 0, { oldImage: post }))).toBe(true);
    // The service deleting it where it lives now is.
    expect(await isMoverChange(record('REMOVE', 32, { oldImage: { ...post, [MOVE_ATTR]: moveMark() } }))).toBe(false);
    // Before the move the old table holds it, and a delete from the target is the mover's.
    resetShardMap();
    writeShardMapCopy(initialShardMap(32));
    expect(await isMoverChange(record('REMOVE', 0, { oldImage: post }))).toBe(false);
    expect(await isMoverChange(record('REMOVE', 32, { oldImage: post }))).toBe(true);
  });

  it('hands consumers the service’s changes without the mark, and none of the mover’s', async () => {
    moved();
    const mark = moveMark();
    expect(await serviceChange(record('INSERT', 32, { newImage: { ...post, [MOVE_ATTR]: mark } }))).toBeUndefined();
    expect(await serviceChange(record('REMOVE', 0, { oldImage: post }))).toBeUndefined();
    const update = await serviceChange(record('MODIFY', 32, { newImage: { ...post, content: 'y', [MOVE_ATTR]: mark }, oldImage: { ...post, [MOVE_ATTR]: mark } }));
    expect(update?.dynamodb?.NewImage).toEqual(marshall({ ...post, content: 'y' }));
    expect(update?.dynamodb?.OldImage).toEqual(marshall(post));
    const plain = record('INSERT', 32, { newImage: post });
    expect(await serviceChange(plain)).toBe(plain);
  });

  it('hides the mark from every shape of read answer', () => {
    const item = () => ({ pk: 'a', [MOVE_ATTR]: 'm' });
    const out = { Item: item(), Items: [item(), item()], Attributes: item(), Responses: { t: [item()] } };
    hideMoveMarks(out);
    expect(out).toEqual({ Item: { pk: 'a' }, Items: [{ pk: 'a' }, { pk: 'a' }], Attributes: { pk: 'a' }, Responses: { t: [{ pk: 'a' }] } });
    const transact = { Responses: [{ Item: item() }, {}] };
    hideMoveMarks(transact);
    expect(transact).toEqual({ Responses: [{ Item: { pk: 'a' } }, {}] });
    hideMoveMarks(undefined);
  });
});
