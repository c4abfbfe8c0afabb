// A post as the domain knows it, and the reference to one that fan-out jobs and workflow states
// carry (id, author, time: all a feed entry needs). Defined once; the schema checks queue and
// workflow inputs at the edge.
import * as z from 'zod';

export interface Post {
  postId: string;
  authorId: string;
  content: string;
  createdAt: string;
}

export interface PostPage {
  items: Post[];
  nextCursor: string | null;
}

export const PostRef = z.strictObject({ postId: z.string(), authorId: z.string(), createdAt: z.string() });
export type PostRef = z.infer<typeof PostRef>;

export const postRef = (post: PostRef): PostRef => ({ postId: post.postId, authorId: post.authorId, createdAt: post.createdAt });
