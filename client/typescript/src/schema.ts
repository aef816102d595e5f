// Generated from gen/openapi/kinbridge.openapi.json by client/typescript/generate.mjs
// (openapi-typescript): `make generate`. Do not edit.

export type $Read<T> = {
    readonly $read: T;
};
export type $Write<T> = {
    readonly $write: T;
};
export type Readable<T> = T extends $Write<any> ? never : T extends $Read<infer U> ? Readable<U> : T extends (infer E)[] ? Readable<E>[] : T extends object ? {
    [K in keyof T as NonNullable<T[K]> extends $Write<any> ? never : K]: Readable<T[K]>;
} : T;
export type Writable<T> = T extends $Read<any> ? never : T extends $Write<infer U> ? Writable<U> : T extends (infer E)[] ? Writable<E>[] : T extends object ? {
    [K in keyof T as NonNullable<T[K]> extends $Read<any> ? never : K]: Writable<T[K]>;
} & {
    [K in keyof T as NonNullable<T[K]> extends $Read<any> ? K : never]?: never;
} : T;
export interface paths {
    "/docs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Returns the docs page of this document */
        get: operations["GetDocsPage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Says the gateway is up */
        get: operations["CheckLiveness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Returns this document */
        get: operations["GetOpenAPIDocument"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Says whether every service behind the gateway answers its health check */
        get: operations["CheckReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists the children the caller may see (all of them for administrators), ordered by creation */
        get: operations["ListChildren"];
        put?: never;
        /**
         * Creates a child
         * @description Creates a child. Administrators only.
         */
        post: operations["CreateChild"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Returns one child the caller may see */
        get: operations["GetChild"];
        put?: never;
        post?: never;
        /**
         * Deletes a child and everything recorded for it
         * @description Deletes a child and everything recorded for it. Administrators only.
         */
        delete: operations["DeleteChild"];
        options?: never;
        head?: never;
        /**
         * Updates the fields named in `updateMask`
         * @description Updates the fields named in `updateMask`. Administrators only. When the
         *     request carries an etag that is no longer current the call fails with
         *     ABORTED (HTTP 409) and nothing changes.
         *
         *     **Example: Approval before publishing** (step 1 of 6, as admin)
         *
         *         PATCH /v1/{child}?updateMask=requireApproval
         *         {"requireApproval":true}
         *
         *     answers 200 OK.
         */
        patch: operations["UpdateChild"];
        trace?: never;
    };
    "/v1/children/{child}/assessments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Lists a child's assessments, oldest assessed first, optionally filtered by subject, kind and date range
         * @description Lists a child's assessments, oldest assessed first, optionally filtered
         *     by subject, kind and date range. Pages stay stable while new
         *     assessments are recorded: every assessment that existed when the
         *     listing began is returned exactly once.
         */
        get: operations["ListAssessments"];
        put?: never;
        /**
         * Records an assessment
         * @description Records an assessment. Contributors and administrators. With a
         *     `requestId`, sending the same request again returns the assessment the
         *     first one created instead of recording it twice.
         *
         *     **Example: A heart and a word on an assessment** (step 1 of 6, as teacher)
         *
         *         POST /v1/{child}/assessments
         *         {"assessedDate":"2026-03-01","kind":"ASSESSMENT_KIND_TEST","score":{"points":{"earned":18,"possible":20}},"subject":"Math","title":"Fractions quiz"}
         *
         *     answers 200 OK. In the next steps, `{assessment}` is its answer's `name`.
         */
        post: operations["CreateAssessment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/assessments/{assessment}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Returns one assessment of a child the caller may see */
        get: operations["GetAssessment"];
        put?: never;
        post?: never;
        /**
         * Deletes an assessment
         * @description Deletes an assessment. Contributors and administrators.
         */
        delete: operations["DeleteAssessment"];
        options?: never;
        head?: never;
        /**
         * Changes the fields named in `updateMask`
         * @description Changes the fields named in `updateMask`. Contributors and
         *     administrators; a stale etag fails with ABORTED (HTTP 409).
         */
        patch: operations["UpdateAssessment"];
        trace?: never;
    };
    "/v1/children/{child}/assessments/{assessment}/comments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Lists an item's comments, oldest first
         * @description Lists an item's comments, oldest first.
         *
         *     **Example: A heart and a word on an assessment** (step 4 of 6, as teacher)
         *
         *         GET /v1/{assessment}/comments
         *
         *     answers 200 OK.
         */
        get: operations["ListComments"];
        put?: never;
        /**
         * Comments on an assessment or a milestone
         * @description Comments on an assessment or a milestone. Any guardian or contributor
         *     of the child (and administrators) may read the comments and write one;
         *     the other guardians are notified (COMMENT_ADDED). A missing item is
         *     NOT_FOUND.
         *
         *     **Example: A heart and a word on an assessment** (step 3 of 6, as maria)
         *
         *         POST /v1/{assessment}/comments
         *         {"text":"Well done, Ada!"}
         *
         *     answers 200 OK. 1 to 1000 characters; the teacher and the other guardians are notified. In the next steps, `{comment}` is its answer's `name`.
         */
        post: operations["CreateComment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/assessments/{assessment}/comments/{comment}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Deletes a comment
         * @description Deletes a comment. Its author, contributors of the child and
         *     administrators.
         *
         *     **Example: A heart and a word on an assessment** (step 6 of 6, as teacher)
         *
         *         DELETE /v1/{comment}
         *
         *     answers 200 OK. The author, the child's contributors and administrators may remove a comment.
         */
        delete: operations["DeleteComment"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/assessments/{assessment}/reactions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Lists an item's reactions by user, with their counts per kind
         * @description Lists an item's reactions by user, with their counts per kind.
         *
         *     **Example: A heart and a word on an assessment** (step 5 of 6, as teacher)
         *
         *         GET /v1/{assessment}/reactions
         *
         *     answers 200 OK.
         */
        get: operations["ListReactions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/assessments/{assessment}/reactions/{reaction}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Sets the caller's reaction to an item (`{item}/reactions/me`), replacing the one they had
         * @description Sets the caller's reaction to an item (`{item}/reactions/me`),
         *     replacing the one they had. Only the first reaction of a user to an
         *     item notifies the other guardians (REACTION_ADDED); replacing or
         *     removing it does not notify again.
         *
         *     **Example: A heart and a word on an assessment** (step 2 of 6, as maria)
         *
         *         PUT /v1/{assessment}/reactions/me
         *         {"kind":"REACTION_KIND_HEART"}
         *
         *     answers 200 OK. One reaction per person and item; setting another replaces it. Milestones and media items take the same routes.
         */
        put: operations["SetReaction"];
        post?: never;
        /** Removes the caller's reaction to an item; NOT_FOUND when they have none */
        delete: operations["DeleteReaction"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/assessments/{assessment}:approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Publishes a draft assessment (see Child.require_approval): guardians see it from now on and are notified (ASSESSMENT_RECORDED)
         * @description Publishes a draft assessment (see Child.require_approval): guardians
         *     see it from now on and are notified (ASSESSMENT_RECORDED). Another
         *     contributor of the child than the one who recorded it and anyone who
         *     edited it since its approval, or an administrator; they get
         *     PERMISSION_DENIED, and an assessment that is already published
         *     FAILED_PRECONDITION. The etag is required (INVALID_ARGUMENT without
         *     it).
         */
        post: operations["ApproveAssessment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/gradingScale": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Returns how the child's letter grades become percentages: the default scale until one is set */
        get: operations["GetGradingScale"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Replaces the child's grading scale
         * @description Replaces the child's grading scale. Contributors and administrators.
         */
        patch: operations["UpdateGradingScale"];
        trace?: never;
    };
    "/v1/children/{child}/guardians": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists the guardianships of a child the caller may see, ordered by user */
        get: operations["ListGuardianships"];
        put?: never;
        /**
         * Grants a user access to a child
         * @description Grants a user access to a child. Administrators only. Fails with
         *     ALREADY_EXISTS when the user is already a guardian of the child.
         */
        post: operations["CreateGuardianship"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/guardians/{guardian}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Returns one guardianship of a child the caller may see */
        get: operations["GetGuardianship"];
        put?: never;
        post?: never;
        /**
         * Revokes a user's access to a child
         * @description Revokes a user's access to a child. Administrators only.
         */
        delete: operations["DeleteGuardianship"];
        options?: never;
        head?: never;
        /**
         * Changes the fields of a guardianship named in `updateMask`
         * @description Changes the fields of a guardianship named in `updateMask`.
         *     Administrators only; etag-checked like UpdateChild.
         */
        patch: operations["UpdateGuardianship"];
        trace?: never;
    };
    "/v1/children/{child}/invitations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Lists a child's invitations, newest first, in every state
         * @description Lists a child's invitations, newest first, in every state. Any
         *     guardian, contributor or administrator who may see the child. Tokens
         *     are never listed.
         *
         *     **Example: Inviting a relative** (step 2 of 7, as admin)
         *
         *         GET /v1/{child}/invitations
         *
         *     answers 200 OK. Lists the child's links, newest first, without their tokens.
         */
        get: operations["ListInvitations"];
        put?: never;
        /**
         * Invites a relative to follow a child: the answer carries a one-time `token` for the app's link `{origin}/join#{token}`, shown only here
         * @description Invites a relative to follow a child: the answer carries a one-time
         *     `token` for the app's link `{origin}/join#{token}`, shown only here.
         *     Administrators may always invite; the child's guardians and
         *     contributors may when the child's `guardiansMayInvite` is on, and
         *     get PERMISSION_DENIED otherwise. Only administrators may invite a
         *     ROLE_CONTRIBUTOR (PERMISSION_DENIED for others). A child with 100
         *     active invitations refuses more with RESOURCE_EXHAUSTED, reason
         *     TOO_MANY_INVITATIONS (domain "progress.kinbridge"): revoke one first;
         *     so does a guardian or contributor with 10 active invitations to the
         *     child (metadata `scope`: `creator`).
         *
         *     **Example: Inviting a relative** (step 1 of 7, as admin)
         *
         *         POST /v1/{child}/invitations
         *         {"relation":"grandmother","ttl":"259200s"}
         *
         *     answers 200 OK. The answer is the only place the token appears; the app's link is `{origin}/join#{token}`. In the next steps, `{invitation}` is its answer's `name`, `{token}` is its answer's `token`.
         *
         *     **Example: Inviting a relative** (step 6 of 7, as admin)
         *
         *         POST /v1/{child}/invitations
         *         {"relation":"uncle"}
         *
         *     answers 200 OK. In the next steps, `{second}` is its answer's `name`.
         */
        post: operations["CreateInvitation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/invitations/{invitation}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Returns one invitation of a child the caller may see, without its token
         * @description Returns one invitation of a child the caller may see, without its token.
         *
         *     **Example: Inviting a relative** (step 5 of 7, as admin)
         *
         *         GET /v1/{invitation}
         *
         *     answers 200 OK.
         */
        get: operations["GetInvitation"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/invitations/{invitation}:revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Revokes an active invitation so its link no longer works
         * @description Revokes an active invitation so its link no longer works. The
         *     invitation's creator, the child's contributors and administrators
         *     (PERMISSION_DENIED for other guardians). Revoking a revoked invitation
         *     returns it unchanged. An invitation that can no longer be revoked fails
         *     with FAILED_PRECONDITION and the reason INVITATION_REDEEMED (the
         *     guardianship it created stays: delete that instead) or
         *     INVITATION_EXPIRED.
         *
         *     **Example: Inviting a relative** (step 7 of 7, as admin)
         *
         *         POST /v1/{second}:revoke
         *         {}
         *
         *     answers 200 OK. A revoked link can no longer be redeemed.
         */
        post: operations["RevokeInvitation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/media": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists a child's media items, newest first, optionally by kind and date */
        get: operations["ListMediaItems"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/media/{mediaItem}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Returns one media item */
        get: operations["GetMediaItem"];
        put?: never;
        post?: never;
        /** Deletes an item; its bytes are freed when no other item uses them */
        delete: operations["DeleteMediaItem"];
        options?: never;
        head?: never;
        /**
         * Changes the title, caption or kind
         * @description Changes the title, caption or kind. Contributors; etag-checked.
         */
        patch: operations["UpdateMediaItem"];
        trace?: never;
    };
    "/v1/children/{child}/media/{mediaItem}/comments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists an item's comments, oldest first */
        get: operations["ListMediaComments"];
        put?: never;
        /** Comments on a media item, as on assessments (ProgressService's CreateComment): any guardian or contributor of the child may read and write them; the other guardians are notified (COMMENT_ADDED) */
        post: operations["CreateMediaComment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/media/{mediaItem}/comments/{comment}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Deletes a comment
         * @description Deletes a comment. Its author, contributors of the child and
         *     administrators.
         */
        delete: operations["DeleteMediaComment"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/media/{mediaItem}/reactions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists an item's reactions by user, with their counts per kind */
        get: operations["ListMediaReactions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/media/{mediaItem}/reactions/{reaction}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Sets the caller's reaction to an item (`{item}/reactions/me`), replacing the one they had; only the first notifies (REACTION_ADDED) */
        put: operations["SetMediaReaction"];
        post?: never;
        /** Removes the caller's reaction to an item; NOT_FOUND when they have none */
        delete: operations["DeleteMediaReaction"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/media/{mediaItem}:approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Publishes a draft item (see the progress service's Child.require_approval): guardians see it from now on, and are told with MEDIA_READY once it is also processed
         * @description Publishes a draft item (see the progress service's
         *     Child.require_approval): guardians see it from now on, and are told
         *     with MEDIA_READY once it is also processed. Another contributor of the
         *     child than its uploader and anyone who edited it since its approval,
         *     or an administrator; they get PERMISSION_DENIED, and an item that is already
         *     published FAILED_PRECONDITION. The etag is required (INVALID_ARGUMENT
         *     without it). A contributor's change of the title, caption or kind of
         *     an item of a child that requires approval makes it a draft again.
         */
        post: operations["ApproveMediaItem"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/media/{mediaItem}:content": {
        parameters: {
            query?: {
                /** @description Read a thumbnail instead of the item (always JPEG); see the item's `thumbnails`. */
                thumbnail?: "small" | "large";
            };
            header?: {
                /** @description One byte range, as RFC 9110 says, for example `bytes=0-1023`; answered with 206. */
                Range?: string;
                /** @description The item's `ETag`; answered with 304 while it is current. */
                "If-None-Match"?: string;
                /** @description Serve the Range only while this ETag is current, the whole item otherwise. */
                "If-Range"?: string;
            };
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: components["parameters"]["ChildPath"];
                /** @description The media item's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: components["parameters"]["MediaItemPath"];
            };
            cookie?: never;
        };
        /**
         * Reads a media item's bytes, or a thumbnail's
         * @description Streams the item's bytes with ranges and caching handled as HTTP says. The token may come as
         *     `?access_token=`, for `<img src>`, `<video src>` and plain links, which cannot set a header.
         *     The `ETag` is the SHA-256 of the bytes served (with `-small` or `-large` for a thumbnail).
         */
        get: operations["ReadMediaItemContent"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        /** Reads a media item's headers, as GET without the body */
        head: operations["HeadMediaItemContent"];
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/media:upload": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Uploads a whole file in one request
         * @description The body is the file itself (with `Content-Length`; any `Content-Type`, as the type is sniffed
         *     from the bytes) or a `multipart/form-data` form whose first file part is the file (up to 64 MiB;
         *     send the raw body or use tus for more). A body that declares more than the kind allows is
         *     refused before it is read. For large files or unreliable networks use the resumable tus
         *     uploads at `/v1/uploads`.
         */
        post: operations["UploadMediaItem"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/milestones": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists a child's milestones, oldest achieved first, optionally filtered by category and date range; pages are stable like ListAssessments */
        get: operations["ListMilestones"];
        put?: never;
        /**
         * Records a milestone
         * @description Records a milestone. Contributors and administrators; idempotent with a
         *     `requestId` like CreateAssessment.
         *
         *     **Example: Approval before publishing** (step 2 of 6, as teacher)
         *
         *         POST /v1/{child}/milestones
         *         {"achievedDate":"2026-04-02","category":"MILESTONE_CATEGORY_SPORTS","title":"Rode a bike"}
         *
         *     answers 200 OK. A contributor's new item waits as a draft; guardians neither see nor hear of it. In the next steps, `{draft}` is its answer's `name`, `{draftEtag}` is its answer's `etag`.
         */
        post: operations["CreateMilestone"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/milestones/{milestone}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Returns one milestone of a child the caller may see
         * @description Returns one milestone of a child the caller may see.
         *
         *     **Example: Approval before publishing** (step 3 of 6, as maria)
         *
         *         GET /v1/{draft}
         *
         *     answers 404 Not Found.
         *
         *     **Example: Approval before publishing** (step 6 of 6, as maria)
         *
         *         GET /v1/{draft}
         *
         *     answers 200 OK.
         */
        get: operations["GetMilestone"];
        put?: never;
        post?: never;
        /**
         * Deletes a milestone
         * @description Deletes a milestone. Contributors and administrators.
         */
        delete: operations["DeleteMilestone"];
        options?: never;
        head?: never;
        /** Changes the fields named in `updateMask`; etag-checked */
        patch: operations["UpdateMilestone"];
        trace?: never;
    };
    "/v1/children/{child}/milestones/{milestone}/comments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists an item's comments, oldest first */
        get: operations["ListComments2"];
        put?: never;
        /**
         * Comments on an assessment or a milestone
         * @description Comments on an assessment or a milestone. Any guardian or contributor
         *     of the child (and administrators) may read the comments and write one;
         *     the other guardians are notified (COMMENT_ADDED). A missing item is
         *     NOT_FOUND.
         */
        post: operations["CreateComment2"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/milestones/{milestone}/comments/{comment}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Deletes a comment
         * @description Deletes a comment. Its author, contributors of the child and
         *     administrators.
         */
        delete: operations["DeleteComment2"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/milestones/{milestone}/reactions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists an item's reactions by user, with their counts per kind */
        get: operations["ListReactions2"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/milestones/{milestone}/reactions/{reaction}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Sets the caller's reaction to an item (`{item}/reactions/me`), replacing the one they had
         * @description Sets the caller's reaction to an item (`{item}/reactions/me`),
         *     replacing the one they had. Only the first reaction of a user to an
         *     item notifies the other guardians (REACTION_ADDED); replacing or
         *     removing it does not notify again.
         */
        put: operations["SetReaction2"];
        post?: never;
        /** Removes the caller's reaction to an item; NOT_FOUND when they have none */
        delete: operations["DeleteReaction2"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/milestones/{milestone}:approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Publishes a draft milestone, as ApproveAssessment does an assessment (guardians are notified with MILESTONE_ACHIEVED)
         * @description Publishes a draft milestone, as ApproveAssessment does an assessment (guardians are notified with MILESTONE_ACHIEVED).
         *
         *     **Example: Approval before publishing** (step 4 of 6, as teacher)
         *
         *         POST /v1/{draft}:approve
         *         {"etag":"{draftEtag}"}
         *
         *     answers 403 Forbidden. Its author cannot approve it.
         *
         *     **Example: Approval before publishing** (step 5 of 6, as teacher2)
         *
         *         POST /v1/{draft}:approve
         *         {"etag":"{draftEtag}"}
         *
         *     answers 200 OK. A second contributor or an administrator approves the version they read (its etag); the guardians are told now.
         */
        post: operations["ApproveMilestone"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/children/{child}/progressSummary": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Summarizes the child's assessments and milestones in a window of days
         * @description Summarizes the child's assessments and milestones in a window of days.
         *
         *     Definitions, so every store and client gets the same numbers:
         *       - every scored assessment becomes a percentage: points earned /
         *         points possible x 100, or its letter grade through the child's
         *         grading scale. TEACHER_NOTE assessments, unscored ones, and letters
         *         not on the scale count only as entries;
         *       - per subject: `assessmentCount` counts every entry; `latestPercent`
         *         is the percentage of the scored assessment with the latest
         *         `assessedDate` (the one recorded last, on a tie); `meanPercent` is
         *         the arithmetic mean; `trend` is the least-squares slope
         *         of percentage against `assessedDate` (x in days), times 30: in
         *         percentage points per 30 days, absent when fewer than two scored
         *         assessments fall on different days;
         *       - `overall` is the same over every subject together; the milestones
         *         are those achieved in the window;
         *       - numbers are rounded to two decimals, half away from zero;
         *       - drafts (not yet approved, see Child.require_approval) count
         *         nowhere, whoever asks.
         *
         *     Worked example: Math 18/20 on 1 March, B+ on 15 March (87 on the
         *     default scale) and 70/100 on 31 March give latest 70, mean 82.33 and a
         *     trend of -20.28 points per 30 days.
         */
        get: operations["GetProgressSummary"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/digest:unsubscribe": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Turns off the daily digest of the user a digest mail was sent to
         * @description Turns off the daily digest of the user a digest mail was sent to. No
         *     sign-in: the token from that mail is the credential. It is the target
         *     of the mail's `List-Unsubscribe` header (RFC 8058 one-click: a POST
         *     with the token in the query and the form body
         *     `List-Unsubscribe=One-Click`, which the gateway accepts in place of
         *     JSON) and of the app's unsubscribe page (`{"token": ...}`). Doing it
         *     again changes nothing. An unknown token answers NOT_FOUND.
         *
         *     **Example: Time zone, quiet hours and the daily digest** (step 5 of 5, as anyone)
         *
         *         POST /v1/digest:unsubscribe
         *         {"token":"0000000000000000000000000000000000000000000"}
         *
         *     answers 404 Not Found. Each digest mail carries its own token (its link and its List-Unsubscribe header); an unknown one answers 404.
         */
        post: operations["UnsubscribeDigest"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/invitations:redeem": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Redeems an invitation's token: the caller becomes a guardian of the child with the invitation's role and relation, and the child's guardians hear of it (GUARDIANSHIP_GRANTED)
         * @description Redeems an invitation's token: the caller becomes a guardian of the
         *     child with the invitation's role and relation, and the child's
         *     guardians hear of it (GUARDIANSHIP_GRANTED). Any signed-in user.
         *     An invitation is used once: of two redeems at the same time one wins.
         *     The user who redeemed it, sending it again (a retry after a lost
         *     answer), gets the guardianship it gave while they still have it.
         *
         *     Errors (ErrorInfo domain "progress.kinbridge"):
         *       - NOT_FOUND: no invitation has this token. Nothing more is said, so
         *         guessing tokens teaches nothing;
         *       - FAILED_PRECONDITION, reason INVITATION_EXPIRED, INVITATION_REDEEMED
         *         or INVITATION_REVOKED: the link no longer works; ask for a new one;
         *       - ALREADY_EXISTS, reason ALREADY_GUARDIAN: the caller already follows
         *         the child. The invitation stays usable by someone else.
         *
         *     **Example: Inviting a relative** (step 3 of 7, as olga)
         *
         *         POST /v1/invitations:redeem
         *         {"token":"{token}"}
         *
         *     answers 200 OK. Whoever redeems the link becomes a guardian of the child.
         *
         *     **Example: Inviting a relative** (step 4 of 7, as maria)
         *
         *         POST /v1/invitations:redeem
         *         {"token":"{token}"}
         *
         *     answers 400 Bad Request with the reason `INVITATION_REDEEMED`. A link works once (its redeemer sending it again gets the same guardianship back); an expired one answers INVITATION_EXPIRED, a revoked one INVITATION_REVOKED.
         */
        post: operations["RedeemInvitation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Streams the caller's notifications as Server-Sent Events
         * @description For `EventSource`, which cannot set headers: the token may come as `?access_token=`. The first
         *     event only sets the resume position (`id:`); then each `notification` event's `data` is a
         *     `Notification` as JSON and its `id` the position after it, so EventSource's reconnect (sending
         *     `Last-Event-ID`) resumes with no gap. A comment line comes every 15 seconds while idle. When
         *     the server ends a feed it may first send a `resume` event (a JSON string: why) and the client
         *     reconnects from its last id.
         */
        get: operations["StreamNotificationEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications/ws": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Streams the caller's notifications over a WebSocket
         * @description A WebSocket upgrade (the token may come as `?access_token=`). Each text message is a
         *     `LiveFrame`: a heartbeat at once and every 15 seconds while idle, then a frame per notification;
         *     pass the last frame's `resumeToken` as `?resume=` to continue after it. A feed over the user's
         *     cap is accepted and closed at once with code 4429 and a reason starting `TOO_MANY_FEEDS:`;
         *     a feed the server ends gets a `resume` frame and close code 1013.
         */
        get: operations["StreamNotificationFrames"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/settings:confirmEmail": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Confirms an e-mail address with the token of the link mailed to it
         * @description Confirms an e-mail address with the token of the link mailed to it.
         *     Needs no sign-in: the token, single-use and valid for 24 hours, proves
         *     the mailbox. An unknown token (never issued, or the address was
         *     changed since) answers NOT_FOUND; a used one FAILED_PRECONDITION with
         *     reason EMAIL_LINK_USED; an expired one FAILED_PRECONDITION with reason
         *     EMAIL_LINK_EXPIRED (set the address again for a new link).
         *
         *     **Example: Time zone, quiet hours and the daily digest** (step 4 of 5, as anyone)
         *
         *         POST /v1/settings:confirmEmail
         *         {"token":"0000000000000000000000000000000000000000000"}
         *
         *     answers 404 Not Found. The token comes from the mailed link; an unknown one answers 404, a used one EMAIL_LINK_USED, an expired one EMAIL_LINK_EXPIRED.
         */
        post: operations["ConfirmEmail"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Creates a resumable upload, optionally with its first bytes */
        post: operations["CreateTusUpload"];
        delete?: never;
        /** Tells what the tus server supports */
        options: operations["DiscoverTusUploads"];
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads/{upload}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The upload's id, the last part of the `Location` its creation answered. */
                upload: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Cancels an upload and drops its bytes */
        delete: operations["CancelTusUpload"];
        /** Tells what the tus server supports, as on /v1/uploads */
        options: operations["DiscoverTusUpload"];
        /**
         * Tells how much of an upload the server has, to resume it
         * @description Once every byte is in, this answers only when the item is known (up to a while), so a client
         *     that takes `Upload-Offset` == `Upload-Length` as done finds `Kinbridge-Media-Item` here.
         */
        head: operations["GetTusUploadOffset"];
        /** Appends bytes to an upload at its offset */
        patch: operations["WriteTusUpload"];
        trace?: never;
    };
    "/v1/users/{user}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Returns the caller: their user id, whether they are an administrator, and the children they follow with their role on each, so an app can show its child picker and menus with one call
         * @description Returns the caller: their user id, whether they are an administrator,
         *     and the children they follow with their role on each, so an app can
         *     show its child picker and menus with one call.
         *
         *     The name is `users/me` or the caller's own `users/{user}`. Any other
         *     user answers NOT_FOUND: NotificationService answers the same for
         *     another user's `users/{user}` inbox, and, as for children, a name the
         *     caller may not see is not told apart from one that does not exist.
         *     Administrators too see only themselves: whether someone else is an
         *     administrator is in that user's token, which the service never sees.
         */
        get: operations["GetUser"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{user}/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists the caller's notifications, newest first */
        get: operations["ListNotifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{user}/notifications:countUnread": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Counts the caller's unread notifications */
        get: operations["CountUnreadNotifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{user}/notifications:markRead": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Marks notifications read: the ones named, or every one up to a sequence number */
        post: operations["MarkNotificationsRead"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{user}/notifications:stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Streams the caller's notifications live
         * @description Streams the caller's notifications live. Starting from a resume token
         *     (the `sequence` of the last notification received), it first replays
         *     every notification after it, in order, then continues live, with no gap
         *     and no duplicate at the seam. A heartbeat comes at once after the
         *     replay, then every few seconds while idle, to keep connections open.
         *     A consumer too slow to keep up is not silently dropped: its stream
         *     ends with ABORTED, and it resumes from its last sequence.
         *
         *     A resume token the stream hands out (with a notification, with a
         *     heartbeat, or in the status it ends with) never passes a notification
         *     of the caller's inbox that the stream did not send: resuming from it
         *     skips nothing the inbox holds. It may pass notifications that left the
         *     inbox (those of a child whose guardianship was revoked).
         *
         *     A resume token the stream could not have issued is refused before any
         *     message: INVALID_ARGUMENT when it is not a sequence (decimal digits, no
         *     sign, no leading zero), OUT_OF_RANGE when it is beyond the caller's
         *     inbox (a sequence the inbox never reached). Neither is worth retrying
         *     unchanged; OUT_OF_RANGE says the inbox is not where the client thinks
         *     (restored from an older backup, say) and it should start afresh.
         */
        get: operations["StreamNotifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{user}/settings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Returns the caller's settings: time zone, quiet hours, the daily digest and the e-mail address it goes to
         * @description Returns the caller's settings: time zone, quiet hours, the daily
         *     digest and the e-mail address it goes to. A user who never changed
         *     any has the defaults (UTC, no quiet hours, no digest). Another user's
         *     settings answer NOT_FOUND.
         *
         *     **Example: Time zone, quiet hours and the daily digest** (step 2 of 5, as maria)
         *
         *         GET /v1/users/me/settings
         *
         *     answers 200 OK.
         */
        get: operations["GetUserSettings"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Changes the caller's settings named in `updateMask`
         * @description Changes the caller's settings named in `updateMask`. Setting an
         *     e-mail address stores it as EMAIL_STATE_PENDING and mails a link,
         *     valid for 24 hours and usable once, that confirms it (ConfirmEmail);
         *     FAILED_PRECONDITION when this server sends no mail. Setting a pending
         *     address again, alone (`updateMask` naming only `email`), mails a new
         *     link and voids the old one; saving it along with other fields does
         *     not. With `etag`, the change is made only if the settings did not
         *     change since they were read (ABORTED otherwise).
         *
         *     **Example: Time zone, quiet hours and the daily digest** (step 1 of 5, as maria)
         *
         *         PATCH /v1/users/me/settings
         *         {"digestEnabled":true,"quietHours":{"end":"07:00","start":"22:00"},"timeZone":"Europe/Lisbon"}
         *
         *     answers 200 OK. During quiet hours the inbox fills but live feeds stay silent, then catch up.
         *
         *     **Example: Time zone, quiet hours and the daily digest** (step 3 of 5, as maria)
         *
         *         PATCH /v1/users/me/settings
         *         {"timeZone":"Mars/Olympus"}
         *
         *     answers 400 Bad Request. Time zones are IANA names.
         */
        patch: operations["UpdateUserSettings"];
        trace?: never;
    };
    "/v1/users/{user}/subscriptions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists the caller's subscriptions */
        get: operations["ListSubscriptions"];
        put?: never;
        /**
         * Narrows or mutes what the caller hears about one child
         * @description Narrows or mutes what the caller hears about one child. Without a
         *     subscription, a guardian hears every event of the child. A child the
         *     caller may not see answers NOT_FOUND, exactly like one that does not
         *     exist.
         */
        post: operations["CreateSubscription"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{user}/subscriptions/{subscription}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Returns one of the caller's subscriptions */
        get: operations["GetSubscription"];
        put?: never;
        post?: never;
        /** Deletes a subscription: the caller hears every event of the child again */
        delete: operations["DeleteSubscription"];
        options?: never;
        head?: never;
        /** Changes the fields of a subscription named in `updateMask` */
        patch: operations["UpdateSubscription"];
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description A detail message: its type URL in `@type` (`type.googleapis.com/google.rpc.BadRequest`) and its fields. */
        Any: {
            "@type"?: string;
        } & {
            [key: string]: unknown;
        };
        /** @description Request of ApproveAssessment. */
        ApproveAssessmentBody: {
            /**
             * @description Required: the etag of the version the approver read. The approval
             *     happens only if it is still current (ABORTED otherwise), so what is
             *     published is what the approver read.
             */
            etag?: string;
        };
        /** @description Request of ApproveMediaItem. */
        ApproveMediaItemBody: {
            /**
             * @description Required: the etag of the version the approver read. The approval
             *     happens only if it is still current (ABORTED otherwise), so what is
             *     published is what the approver read.
             */
            etag?: string;
        };
        /** @description Request of ApproveMilestone. */
        ApproveMilestoneBody: {
            /** @description Required, as in ApproveAssessmentRequest. */
            etag?: string;
        };
        /**
         * @description One recorded piece of school work: a test, homework, a project, a report
         *     card grade or a teacher's note.
         */
        Assessment: {
            /**
             * Format: date-time
             * @description When the draft was approved; absent when it was published at once, and
             *     while it is a draft.
             */
            approveTime?: $Read<string>;
            /**
             * @description The user who approved the draft; empty when it was published at once,
             *     and while it is a draft (again, after an edit).
             */
            approvedBy?: $Read<string>;
            /**
             * @description The day the work was assessed, `YYYY-MM-DD` in the child's time zone,
             *     from 1900-01-01 to 2199-12-31. Required on create.
             */
            assessedDate: string;
            /**
             * Format: date-time
             * @description When it was recorded.
             */
            createTime: $Read<string>;
            /** @description A checksum of the current state, checked on update and delete when sent. */
            etag?: string;
            /** @description The kind of work. Required on create. */
            kind: components["schemas"]["AssessmentKind"];
            /** @description The resource name, `children/{child}/assessments/{assessment}`. Assigned by the server. */
            name: $Read<string>;
            /**
             * Format: double
             * @description The score as a percentage (see GetProgressSummary); absent when
             *     unscored or when the letter grade is not on the child's scale.
             */
            percent?: $Read<number>;
            /**
             * @description The reactions and comments on it, as the caller sees them; absent
             *     while nobody reacted to it or commented on it.
             */
            reactions?: $Read<components["schemas"]["ReactionSummary"]>;
            /** @description The user who recorded it. */
            recordedBy: $Read<string>;
            /** @description The score; absent for unscored work and teacher notes. */
            score?: components["schemas"]["Score"];
            /**
             * @description Whether guardians see it: DRAFT until approved when the child requires
             *     approval (only contributors and administrators see drafts), PUBLISHED
             *     otherwise.
             */
            state?: $Read<components["schemas"]["PublishState"]>;
            /** @description The subject, for example "Math". Required on create. */
            subject: string;
            /** @description What the teacher wrote. */
            teacherComment?: string;
            /** @description What was assessed, for example "Fractions quiz". Required on create. */
            title: string;
            /**
             * Format: date-time
             * @description When it last changed.
             */
            updateTime: $Read<string>;
        };
        /**
         * @description What kind of work an assessment records.
         *
         *      - ASSESSMENT_KIND_UNSPECIFIED: Not set; invalid.
         *      - ASSESSMENT_KIND_TEST: A test or quiz.
         *      - ASSESSMENT_KIND_HOMEWORK: Homework.
         *      - ASSESSMENT_KIND_PROJECT: A project.
         *      - ASSESSMENT_KIND_REPORT_CARD: A grade on a report card.
         *      - ASSESSMENT_KIND_TEACHER_NOTE: A teacher's note; never scored, counted only as an entry.
         * @default ASSESSMENT_KIND_UNSPECIFIED
         * @enum {string}
         */
        AssessmentKind: "ASSESSMENT_KIND_UNSPECIFIED" | "ASSESSMENT_KIND_TEST" | "ASSESSMENT_KIND_HOMEWORK" | "ASSESSMENT_KIND_PROJECT" | "ASSESSMENT_KIND_REPORT_CARD" | "ASSESSMENT_KIND_TEACHER_NOTE";
        /** @description A child whose school life is followed. */
        Child: {
            /**
             * @description The date of birth as `YYYY-MM-DD`, from 1900-01-01 and not in the
             *     future; empty when not given.
             */
            birthDate?: string;
            /**
             * Format: date-time
             * @description When the child was created.
             */
            createTime: $Read<string>;
            /**
             * @description The name shown to family members, for example "Ada". Required when
             *     creating a child; an update that names it in its mask may not clear it.
             */
            displayName: string;
            /**
             * @description A checksum of the current state. Send it back on update or delete to
             *     make the write fail with ABORTED if someone else changed the child since.
             */
            etag?: string;
            /** @description The grade or class the child is in, as the school names it ("3", "K", "Year 5"). */
            gradeLevel?: string;
            /**
             * @description Whether the child's guardians and contributors may invite relatives
             *     (CreateInvitation); administrators always may. Only administrators
             *     may set it. Defaults to false. Turning it off revokes the active
             *     invitations that guardians and contributors sent, at once.
             */
            guardiansMayInvite?: boolean;
            /** @description The resource name, `children/{child}`. Assigned by the server. */
            name: $Read<string>;
            /**
             * @description Whether what contributors record or upload for the child waits for
             *     approval before guardians see it: assessments, milestones and media
             *     items created by a contributor who is not an administrator are then
             *     drafts (PUBLISH_STATE_DRAFT) until another contributor or an
             *     administrator approves them, and so is a contributor's edit of what
             *     was published. Set by administrators only. Turning it off publishes
             *     no existing draft: each still needs its approval.
             */
            requireApproval?: boolean;
            /** @description The school the child attends. */
            school?: string;
            /**
             * @description The child's IANA time zone, for example "Europe/Lisbon". Dates recorded
             *     for the child are days in this zone. Defaults to "UTC".
             */
            timeZone?: string;
            /**
             * Format: date-time
             * @description When the child was last changed.
             */
            updateTime: $Read<string>;
        };
        /**
         * @description A comment on an item. Text only; it cannot be edited, only deleted (by
         *     its author, a contributor of the child or an administrator).
         */
        Comment: {
            /** @description The user who wrote it: the `sub` claim of their token. */
            author: $Read<string>;
            /**
             * Format: date-time
             * @description When it was written.
             */
            createTime: $Read<string>;
            /**
             * @description The resource name, `{item}/comments/{comment}`, for example
             *     `children/{child}/assessments/{assessment}/comments/{comment}`.
             *     Assigned by the server.
             */
            name: $Read<string>;
            /**
             * @description What was said: 1 to 1000 characters once leading and trailing white
             *     space is trimmed (the trimmed text is stored). Required on create.
             *     Control characters other than tabs and line breaks, and the
             *     bidirectional embedding, override and isolate characters, are refused.
             */
            text?: string;
        };
        /** @description Request of ConfirmEmail. */
        ConfirmEmailRequest: {
            /**
             * @description The token of the mailed link (the part after `#` of
             *     `{public-url}/settings/confirm#{token}`).
             */
            token: string;
        };
        /** @description Response of ConfirmEmail. */
        ConfirmEmailResponse: {
            /** @description The address now confirmed. */
            email?: string;
            /** @description The address's state: EMAIL_STATE_CONFIRMED. */
            emailState?: components["schemas"]["EmailState"];
        };
        /** @description Response of CountUnreadNotifications. */
        CountUnreadNotificationsResponse: {
            /**
             * Format: int64
             * @description How many notifications are unread.
             */
            unreadCount?: string;
        };
        /**
         * @description Whether an e-mail address may receive mail.
         *
         *      - EMAIL_STATE_UNSPECIFIED: Not set; never answered.
         *      - EMAIL_STATE_NONE: No address.
         *      - EMAIL_STATE_PENDING: The user set it; the mailed link that confirms it was not used yet.
         *     No mail goes to it.
         *      - EMAIL_STATE_CONFIRMED: The user set it and confirmed it with the mailed link.
         *      - EMAIL_STATE_FROM_IDENTITY: The user set none; it is the address the sign-in provider vouches for
         *     (the ID token's `email` with `email_verified`).
         * @default EMAIL_STATE_UNSPECIFIED
         * @enum {string}
         */
        EmailState: "EMAIL_STATE_UNSPECIFIED" | "EMAIL_STATE_NONE" | "EMAIL_STATE_PENDING" | "EMAIL_STATE_CONFIRMED" | "EMAIL_STATE_FROM_IDENTITY";
        /**
         * @description What happened.
         *
         *      - EVENT_TYPE_UNSPECIFIED: Not set; invalid.
         *      - EVENT_TYPE_ASSESSMENT_RECORDED: A contributor recorded an assessment.
         *      - EVENT_TYPE_MILESTONE_ACHIEVED: A contributor recorded a milestone.
         *      - EVENT_TYPE_MEDIA_READY: A photo, video or piece of artwork finished processing.
         *      - EVENT_TYPE_GUARDIANSHIP_GRANTED: A user was given access to a child.
         *      - EVENT_TYPE_GUARDIANSHIP_REVOKED: A user's access to a child was revoked.
         *      - EVENT_TYPE_CHILD_DELETED: A child and everything recorded for it were deleted.
         *      - EVENT_TYPE_COMMENT_ADDED: Someone commented on an assessment, a milestone or a media item; the
         *     link names the item.
         *      - EVENT_TYPE_REACTION_ADDED: Someone reacted to an assessment, a milestone or a media item for the
         *     first time; the link names the item.
         *      - EVENT_TYPE_APPROVAL_REQUESTED: A contributor recorded or uploaded a draft for a child that requires
         *     approval: sent to the child's other contributors, who may approve it.
         * @default EVENT_TYPE_UNSPECIFIED
         * @enum {string}
         */
        EventType: "EVENT_TYPE_UNSPECIFIED" | "EVENT_TYPE_ASSESSMENT_RECORDED" | "EVENT_TYPE_MILESTONE_ACHIEVED" | "EVENT_TYPE_MEDIA_READY" | "EVENT_TYPE_GUARDIANSHIP_GRANTED" | "EVENT_TYPE_GUARDIANSHIP_REVOKED" | "EVENT_TYPE_CHILD_DELETED" | "EVENT_TYPE_COMMENT_ADDED" | "EVENT_TYPE_REACTION_ADDED" | "EVENT_TYPE_APPROVAL_REQUESTED";
        /** @description A child a user follows, and what their guardianship of it allows. */
        FollowedChild: {
            /** @description The child, `children/{child}`. */
            child: $Read<string>;
            /** @description The child's display name, for example "Ada". */
            displayName: $Read<string>;
            /**
             * @description How the user relates to the child, for example "mother" or "teacher";
             *     absent when the guardianship does not say.
             */
            relation?: $Read<string>;
            /**
             * @description What the user may do for the child: see it (ROLE_GUARDIAN) or also
             *     record and upload (ROLE_CONTRIBUTOR).
             */
            role: $Read<components["schemas"]["Role"]>;
        };
        /** @description One letter grade and the percentage it stands for. */
        GradeMapping: {
            /** @description The letter grade, for example "B+". */
            letter: string;
            /**
             * Format: double
             * @description The percentage it stands for, 0 to 100.
             */
            percent?: number;
        };
        /**
         * @description How a child's letter grades become percentages. The default: A+ 97, A 93,
         *     A- 90, B+ 87, B 83, B- 80, C+ 77, C 73, C- 70, D+ 67, D 63, D- 60, F 0.
         */
        GradingScale: {
            /** @description A checksum of the current state, checked on update when sent. */
            etag?: string;
            /**
             * @description The letters and their percentages; letters are unique (compared
             *     without regard to case).
             */
            grades: components["schemas"]["GradeMapping"][];
            /** @description The resource name, `children/{child}/gradingScale`. */
            name?: string;
            /**
             * Format: date-time
             * @description When the scale was last set; absent while it is the default.
             */
            updateTime?: $Read<string>;
        };
        /** @description The right of one user to follow one child. */
        Guardianship: {
            /**
             * Format: date-time
             * @description When access was granted.
             */
            createTime: $Read<string>;
            /** @description A checksum of the current state, checked on update and delete when sent. */
            etag?: string;
            /** @description The resource name, `children/{child}/guardians/{user}`. Assigned by the server. */
            name: $Read<string>;
            /** @description How the user relates to the child, for example "mother" or "teacher". */
            relation?: string;
            /** @description What the user may do. */
            role: components["schemas"]["Role"];
            /**
             * Format: date-time
             * @description When the guardianship last changed.
             */
            updateTime: $Read<string>;
            /** @description The user's id: the `sub` claim of their token. Required on create, immutable after. */
            user: string;
        };
        /** @description A heartbeat: the stream is alive and nothing new arrived. */
        Heartbeat: {
            /**
             * Format: date-time
             * @description The server's time.
             */
            time?: string;
        };
        /**
         * @description An invitation to follow a child: a one-time link a guardian sends to a
         *     relative, who becomes a guardian by redeeming it.
         */
        Invitation: {
            /**
             * Format: date-time
             * @description When it was created.
             */
            createTime: $Read<string>;
            /** @description The user who created it. */
            creator: $Read<string>;
            /**
             * Format: date-time
             * @description When the link stops working: creation plus `ttl`.
             */
            expireTime: $Read<string>;
            /**
             * @description The resource name, `children/{child}/invitations/{invitation}`.
             *     Assigned by the server.
             */
            name: $Read<string>;
            /**
             * Format: date-time
             * @description When it was redeemed; absent until then.
             */
            redeemTime?: $Read<string>;
            /** @description The user who redeemed it; absent until then. */
            redeemer?: $Read<string>;
            /**
             * @description How the relative relates to the child, for example "grandmother"; it
             *     becomes the relation of their guardianship.
             */
            relation?: string;
            /**
             * Format: date-time
             * @description When it was revoked; absent unless it was.
             */
            revokeTime?: $Read<string>;
            /**
             * @description What the relative may do once they redeem it. Defaults to
             *     ROLE_GUARDIAN; only administrators may invite a ROLE_CONTRIBUTOR.
             */
            role?: components["schemas"]["Role"];
            /** @description Where the invitation stands; EXPIRED once `expireTime` has passed. */
            state: $Read<components["schemas"]["InvitationState"]>;
            /**
             * @description The secret that redeems it (43 characters of base64url, 256 random
             *     bits), returned only in CreateInvitation's answer: the server keeps
             *     only its SHA-256 and cannot show it again. Put it in the link's
             *     fragment, `{origin}/join#{token}`, so it never reaches server logs.
             */
            token?: $Read<string>;
            /**
             * @description Input only, on create: how long the link works, from 1 minute to 30
             *     days; 7 days when not set. Never returned.
             */
            ttl?: string;
        };
        /**
         * @description Where an invitation stands.
         *
         *      - INVITATION_STATE_UNSPECIFIED: Not set; never returned.
         *      - INVITATION_STATE_ACTIVE: Its link works: not redeemed, revoked or expired.
         *      - INVITATION_STATE_REDEEMED: Someone redeemed it: see `redeemer`.
         *      - INVITATION_STATE_REVOKED: It was revoked before anyone redeemed it.
         *      - INVITATION_STATE_EXPIRED: Its `expireTime` passed before anyone redeemed it.
         * @default INVITATION_STATE_UNSPECIFIED
         * @enum {string}
         */
        InvitationState: "INVITATION_STATE_UNSPECIFIED" | "INVITATION_STATE_ACTIVE" | "INVITATION_STATE_REDEEMED" | "INVITATION_STATE_REVOKED" | "INVITATION_STATE_EXPIRED";
        /** @description Response of ListAssessments. */
        ListAssessmentsResponse: {
            /** @description The assessments of this page. */
            assessments?: components["schemas"]["Assessment"][];
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
        };
        /** @description Response of ListChildren. */
        ListChildrenResponse: {
            /** @description The children of this page. */
            children?: components["schemas"]["Child"][];
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
        };
        /** @description A page of an item's comments, oldest first. */
        ListCommentsResponse: {
            /** @description The comments of this page. */
            comments?: components["schemas"]["Comment"][];
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
        };
        /** @description Response of ListGuardianships. */
        ListGuardianshipsResponse: {
            /** @description The guardianships of this page. */
            guardianships?: components["schemas"]["Guardianship"][];
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
        };
        /** @description Response of ListInvitations. */
        ListInvitationsResponse: {
            /** @description The invitations of this page, newest first, without tokens. */
            invitations?: components["schemas"]["Invitation"][];
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
        };
        /** @description Response of ListMediaItems. */
        ListMediaItemsResponse: {
            /** @description The items of this page, newest first. */
            mediaItems?: components["schemas"]["MediaItem"][];
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
        };
        /** @description Response of ListMilestones. */
        ListMilestonesResponse: {
            /** @description The milestones of this page. */
            milestones?: components["schemas"]["Milestone"][];
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
        };
        /** @description Response of ListNotifications. */
        ListNotificationsResponse: {
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
            /** @description The notifications of this page, newest first. */
            notifications?: components["schemas"]["Notification"][];
        };
        /** @description A page of an item's reactions, by user, with the counts of them all. */
        ListReactionsResponse: {
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
            /** @description The reactions of this page. */
            reactions?: components["schemas"]["Reaction"][];
            /**
             * @description Every reaction of the item counted per kind, the caller's own, and the
             *     number of comments.
             */
            summary?: components["schemas"]["ReactionSummary"];
        };
        /** @description Response of ListSubscriptions. */
        ListSubscriptionsResponse: {
            /** @description Pass as `pageToken` to get the next page; empty on the last page. */
            nextPageToken?: string;
            /** @description The subscriptions of this page, by child. */
            subscriptions?: components["schemas"]["Subscription"][];
        };
        /** @description One WebSocket message of the live feed. */
        LiveFrame: {
            notification?: components["schemas"]["Notification"];
            /** @description Why a `resume` frame ends the feed. */
            reason?: string;
            /** @description Pass as `?resume=` to continue after this frame. */
            resumeToken?: string;
            /**
             * @description `notification` carries one; `heartbeat` says the feed is alive and where it is; `resume` says the server ends the feed: reconnect with `resumeToken`.
             * @enum {string}
             */
            type: "notification" | "heartbeat" | "resume";
        };
        /** @description Request of MarkNotificationsRead. */
        MarkNotificationsReadBody: {
            /** @description The notifications to mark, `users/{user}/notifications/{sequence}`. */
            names?: string[];
            /**
             * Format: int64
             * @description Also mark every notification with a sequence up to this one; 0 for none.
             */
            upToSequence?: string;
        };
        /** @description Response of MarkNotificationsRead. */
        MarkNotificationsReadResponse: {
            /**
             * Format: int64
             * @description How many notifications changed from unread to read.
             */
            markedCount?: string;
        };
        /** @description A child's photo, video, artwork or document. */
        MediaItem: {
            /**
             * Format: date-time
             * @description When the draft was approved; absent when it was published at once, and
             *     while it is a draft.
             */
            approveTime?: $Read<string>;
            /**
             * @description The user who approved the draft; empty when it was published at once,
             *     and while it is a draft (again, after an edit).
             */
            approvedBy?: $Read<string>;
            /** @description A caption or story. */
            caption?: string;
            /**
             * @description Hex SHA-256 of the bytes as stored (the upload rebuilt from an
             *     allowlist, see docs/privacy.md): the ETag.
             */
            contentSha256?: $Read<string>;
            /** @description The type sniffed from the bytes, for example "image/jpeg". */
            contentType?: $Read<string>;
            /**
             * Format: date-time
             * @description When it was uploaded.
             */
            createTime: $Read<string>;
            /** @description Duration of a video, when known. */
            duration?: $Read<string>;
            /** @description A checksum of the item's state, checked on update and delete when sent. */
            etag?: string;
            /**
             * @description Why processing failed, for FAILED items: a fixed sentence for people
             *     (too large, a kind of file with no preview, or one that cannot be read),
             *     never a program's own output, which names files on the server.
             */
            failureReason?: $Read<string>;
            /**
             * Format: int32
             * @description Height in pixels, when known.
             */
            height?: $Read<number>;
            /** @description What it is. */
            kind?: components["schemas"]["MediaKind"];
            /** @description The resource name, `children/{child}/media/{media}`. */
            name: $Read<string>;
            /**
             * @description Hex SHA-256 of the bytes as uploaded: verified against the client's,
             *     and used to store the same upload once.
             */
            originalSha256?: $Read<string>;
            /**
             * @description Whether guardians see it: DRAFT until approved when the child requires
             *     approval (only contributors and administrators see drafts), PUBLISHED
             *     otherwise. (`state` is where the item is in its processing.)
             */
            publishState?: $Read<components["schemas"]["PublishState"]>;
            /**
             * @description The reactions and comments on it, as the caller sees them; absent
             *     while nobody reacted to it or commented on it.
             */
            reactions?: $Read<components["schemas"]["ReactionSummary"]>;
            /**
             * Format: int64
             * @description The size of the stored bytes.
             */
            sizeBytes?: $Read<string>;
            /** @description Where the item is in its life. */
            state?: $Read<components["schemas"]["MediaState"]>;
            /**
             * Format: date-time
             * @description When the photo or video was taken, when the file says.
             */
            takenTime?: $Read<string>;
            /** @description The thumbnails made so far. */
            thumbnails?: $Read<components["schemas"]["Thumbnail"][]>;
            /** @description A title, for example "Self-portrait in blue". */
            title?: string;
            /**
             * Format: date-time
             * @description When it last changed.
             */
            updateTime: $Read<string>;
            /** @description The user who uploaded it. */
            uploadedBy: $Read<string>;
            /**
             * Format: int32
             * @description Width in pixels, when known.
             */
            width?: $Read<number>;
        };
        /**
         * @description What a media item is.
         *
         *      - MEDIA_KIND_UNSPECIFIED: Not set.
         *      - MEDIA_KIND_ARTWORK: A drawing or painting, usually photographed or scanned.
         *      - MEDIA_KIND_PHOTO: A photo.
         *      - MEDIA_KIND_VIDEO: A video.
         *      - MEDIA_KIND_DOCUMENT: A scanned worksheet, test or report, as a picture (PDF is not accepted).
         * @default MEDIA_KIND_UNSPECIFIED
         * @enum {string}
         */
        MediaKind: "MEDIA_KIND_UNSPECIFIED" | "MEDIA_KIND_ARTWORK" | "MEDIA_KIND_PHOTO" | "MEDIA_KIND_VIDEO" | "MEDIA_KIND_DOCUMENT";
        /**
         * @description Where an item is in its life.
         *
         *      - MEDIA_STATE_UNSPECIFIED: Not set.
         *      - MEDIA_STATE_UPLOADING: Bytes are still arriving.
         *      - MEDIA_STATE_PROCESSING: Stored; thumbnails and metadata are being made.
         *      - MEDIA_STATE_READY: Ready to view.
         *      - MEDIA_STATE_FAILED: Processing failed; `failureReason` says why. The original is kept.
         * @default MEDIA_STATE_UNSPECIFIED
         * @enum {string}
         */
        MediaState: "MEDIA_STATE_UNSPECIFIED" | "MEDIA_STATE_UPLOADING" | "MEDIA_STATE_PROCESSING" | "MEDIA_STATE_READY" | "MEDIA_STATE_FAILED";
        /** @description Something the child achieved. */
        Milestone: {
            /**
             * @description The day it was achieved, `YYYY-MM-DD` in the child's time zone, from
             *     1900-01-01 to 2199-12-31. Required on create.
             */
            achievedDate: string;
            /**
             * Format: date-time
             * @description When the draft was approved; absent when it was published at once, and
             *     while it is a draft.
             */
            approveTime?: $Read<string>;
            /**
             * @description The user who approved the draft; empty when it was published at once,
             *     and while it is a draft (again, after an edit).
             */
            approvedBy?: $Read<string>;
            /** @description The area of life it belongs to. */
            category?: components["schemas"]["MilestoneCategory"];
            /**
             * Format: date-time
             * @description When it was recorded.
             */
            createTime: $Read<string>;
            /** @description More about it. */
            description?: string;
            /** @description A checksum of the current state, checked on update and delete when sent. */
            etag?: string;
            /** @description The resource name, `children/{child}/milestones/{milestone}`. Assigned by the server. */
            name: $Read<string>;
            /**
             * @description The reactions and comments on it, as the caller sees them; absent
             *     while nobody reacted to it or commented on it.
             */
            reactions?: $Read<components["schemas"]["ReactionSummary"]>;
            /** @description The user who recorded it. */
            recordedBy: $Read<string>;
            /** @description Whether guardians see it, as for Assessment.state. */
            state?: $Read<components["schemas"]["PublishState"]>;
            /** @description What was achieved, for example "Read a chapter book alone". Required on create. */
            title: string;
            /**
             * Format: date-time
             * @description When it last changed.
             */
            updateTime: $Read<string>;
        };
        /**
         * @description What area of life a milestone belongs to.
         *
         *      - MILESTONE_CATEGORY_UNSPECIFIED: Not set.
         *      - MILESTONE_CATEGORY_ACADEMIC: Learning: reading a first book, mastering times tables.
         *      - MILESTONE_CATEGORY_SOCIAL: Friendships, teamwork, leadership.
         *      - MILESTONE_CATEGORY_ARTS: Music, drawing, theatre.
         *      - MILESTONE_CATEGORY_SPORTS: Sports and games.
         *      - MILESTONE_CATEGORY_LIFE_SKILLS: Independence: tying shoes, riding the bus alone.
         *      - MILESTONE_CATEGORY_OTHER: Anything else.
         * @default MILESTONE_CATEGORY_UNSPECIFIED
         * @enum {string}
         */
        MilestoneCategory: "MILESTONE_CATEGORY_UNSPECIFIED" | "MILESTONE_CATEGORY_ACADEMIC" | "MILESTONE_CATEGORY_SOCIAL" | "MILESTONE_CATEGORY_ARTS" | "MILESTONE_CATEGORY_SPORTS" | "MILESTONE_CATEGORY_LIFE_SKILLS" | "MILESTONE_CATEGORY_OTHER";
        /** @description One entry of a user's inbox. */
        Notification: {
            /** @description More detail, for example "Fractions quiz: 90%". */
            body?: string;
            /** @description The child it is about, `children/{child}`. */
            child?: string;
            /**
             * Format: date-time
             * @description When the event happened.
             */
            createTime: $Read<string>;
            /** @description The resource it is about, for example `children/{child}/assessments/{a}`. */
            link?: string;
            /** @description The resource name, `users/{user}/notifications/{sequence}`. */
            name: $Read<string>;
            /** @description Whether the user has read it. */
            read?: boolean;
            /**
             * Format: int64
             * @description The user's position in their own feed: strictly increasing, never
             *     reused. Pass it as a resume token to continue after this notification.
             */
            sequence: $Read<string>;
            /** @description A short line for a list, for example "New grade in Math". */
            title?: string;
            /** @description What happened. */
            type?: components["schemas"]["EventType"];
        };
        /**
         * @description A score as points out of a maximum. Its percentage, earned / possible x
         *     100, must be a number from 0 to 1,000,000 (extra credit up to 10,000
         *     times the points possible), so that every summary stays a finite number;
         *     a score outside that is refused (INVALID_ARGUMENT on `score.points`) and
         *     nothing is stored.
         */
        Points: {
            /**
             * Format: double
             * @description The points earned, 0 or more (may exceed `possible` with extra credit).
             */
            earned?: number;
            /**
             * Format: double
             * @description The points possible, more than 0.
             */
            possible?: number;
        };
        /** @description A child's progress in a window of days, defined in GetProgressSummary. */
        ProgressSummary: {
            /** @description The last day of the window, inclusive; empty for "until now". */
            endDate?: string;
            /** @description The milestones achieved in the window, oldest first. */
            milestones?: components["schemas"]["Milestone"][];
            /** @description The resource name, `children/{child}/progressSummary`. */
            name?: string;
            /** @description All subjects together. */
            overall?: components["schemas"]["SubjectSummary"];
            /** @description The first day of the window, inclusive; empty for "from the beginning". */
            startDate?: string;
            /** @description One entry per subject, ordered by subject. */
            subjects?: components["schemas"]["SubjectSummary"][];
        };
        /**
         * @description Whether guardians may see an assessment, a milestone or a media item.
         *
         *      - PUBLISH_STATE_UNSPECIFIED: Not set.
         *      - PUBLISH_STATE_DRAFT: Recorded or edited by a contributor for a child that requires approval
         *     and not yet approved: only contributors and administrators see it.
         *      - PUBLISH_STATE_PUBLISHED: Visible to everyone who follows the child.
         * @default PUBLISH_STATE_UNSPECIFIED
         * @enum {string}
         */
        PublishState: "PUBLISH_STATE_UNSPECIFIED" | "PUBLISH_STATE_DRAFT" | "PUBLISH_STATE_PUBLISHED";
        /**
         * @description Quiet hours: a daily span of local time (in the settings' time zone)
         *     during which notifications are kept in the inbox and counted as unread
         *     but not pushed on live feeds. When they end, open feeds receive what
         *     arrived meanwhile, in order. The span may wrap midnight ("22:00" to
         *     "07:00").
         */
        QuietHours: {
            /** @description The local time they end, "HH:MM"; not equal to start. */
            end?: string;
            /** @description The local time they begin, "HH:MM" (00:00 to 23:59). */
            start?: string;
        };
        /**
         * @description One user's reaction to an item. A user has at most one per item: setting
         *     another replaces it.
         */
        Reaction: {
            /**
             * Format: date-time
             * @description When the user first reacted to the item.
             */
            createTime: $Read<string>;
            /** @description The reaction. Required when setting one. */
            kind?: components["schemas"]["ReactionKind"];
            /**
             * @description The resource name, `{item}/reactions/{user}`, for example
             *     `children/{child}/media/{media}/reactions/{user}`. When setting or
             *     deleting, `{user}` is `me` or the caller's own user id.
             */
            name?: string;
            /**
             * Format: date-time
             * @description When the user last changed their reaction.
             */
            updateTime: $Read<string>;
            /** @description The user who reacted. */
            user: $Read<string>;
        };
        /** @description How many users reacted with one kind. */
        ReactionCount: {
            /**
             * Format: int32
             * @description How many users reacted with it; at least 1.
             */
            count: $Read<number>;
            /** @description The kind. */
            kind: $Read<components["schemas"]["ReactionKind"]>;
        };
        /**
         * @description How someone reacts to an item.
         *
         *      - REACTION_KIND_UNSPECIFIED: Not set; invalid when setting a reaction.
         *      - REACTION_KIND_HEART: A heart: love it.
         *      - REACTION_KIND_CLAP: Clapping hands: well done.
         *      - REACTION_KIND_STAR: A star: outstanding.
         *      - REACTION_KIND_LAUGH: Laughing: that is funny.
         *      - REACTION_KIND_WOW: Wow: amazing.
         * @default REACTION_KIND_UNSPECIFIED
         * @enum {string}
         */
        ReactionKind: "REACTION_KIND_UNSPECIFIED" | "REACTION_KIND_HEART" | "REACTION_KIND_CLAP" | "REACTION_KIND_STAR" | "REACTION_KIND_LAUGH" | "REACTION_KIND_WOW";
        /** @description The conversation about an item in numbers, as the caller sees it. */
        ReactionSummary: {
            /**
             * Format: int32
             * @description How many comments the item has.
             */
            commentCount?: $Read<number>;
            /**
             * @description One entry per kind somebody chose, in the order of ReactionKind;
             *     absent in JSON when nobody reacted.
             */
            counts?: $Read<components["schemas"]["ReactionCount"][]>;
            /**
             * @description The caller's own reaction; REACTION_KIND_UNSPECIFIED (absent in JSON)
             *     when they have none.
             */
            myKind?: $Read<components["schemas"]["ReactionKind"]>;
        };
        /**
         * @description Each service's health, `SERVING` or why not.
         * @example {
         *       "media": "SERVING",
         *       "notification": "unreachable",
         *       "progress": "SERVING"
         *     }
         */
        Readiness: {
            [key: string]: string;
        };
        /** @description Request of RedeemInvitation. */
        RedeemInvitationRequest: {
            /** @description The invitation's token, from the link's fragment. Required. */
            token: string;
        };
        /** @description Request of RevokeInvitation. */
        RevokeInvitationBody: Record<string, never>;
        /**
         * @description What a guardianship allows.
         *
         *      - ROLE_UNSPECIFIED: Not set; invalid in requests.
         *      - ROLE_GUARDIAN: May see the child's progress and media.
         *      - ROLE_CONTRIBUTOR: May see, and may also record progress and upload media.
         * @default ROLE_UNSPECIFIED
         * @enum {string}
         */
        Role: "ROLE_UNSPECIFIED" | "ROLE_GUARDIAN" | "ROLE_CONTRIBUTOR";
        /** @description How an assessment was scored: points or a letter grade. */
        Score: {
            /**
             * @description A letter grade, for example "B+"; it becomes a percentage through the
             *     child's grading scale.
             */
            letterGrade?: string;
            /** @description Points out of a maximum, for example 18 of 20. */
            points?: components["schemas"]["Points"];
        };
        /** @description Every error: a google.rpc.Status as JSON. */
        Status: {
            /**
             * Format: int32
             * @description The gRPC status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, 7 PERMISSION_DENIED, 10 ABORTED, 16 UNAUTHENTICATED, ...).
             */
            code?: number;
            /** @description google.rpc detail messages, each with its `@type`: BadRequest (field violations, by JSON path), ErrorInfo (a reason such as RATE_LIMITED or TOO_MANY_FEEDS), RetryInfo, RequestInfo (the trace id). */
            details?: components["schemas"]["Any"][];
            /** @description What went wrong, for a developer. */
            message?: string;
        };
        /** @description One message of a notification stream. */
        StreamNotificationsResponse: {
            /** @description Nothing new; sent every few seconds while idle. */
            heartbeat?: components["schemas"]["Heartbeat"];
            /** @description A notification, replayed or live. */
            notification?: components["schemas"]["Notification"];
            /** @description The token to resume after this message. */
            resumeToken?: string;
        };
        /** @description The numbers of one subject, or of all subjects together. */
        SubjectSummary: {
            /**
             * Format: int32
             * @description Every assessment in the window, scored or not.
             */
            assessmentCount?: number;
            /**
             * Format: double
             * @description The percentage of the latest scored assessment.
             */
            latestPercent?: number;
            /**
             * Format: double
             * @description The mean of the percentages.
             */
            meanPercent?: number;
            /**
             * Format: int32
             * @description The assessments with a percentage.
             */
            scoredCount?: number;
            /** @description The subject; empty in the overall summary. */
            subject?: string;
            /**
             * Format: double
             * @description The least-squares slope of percentage against date, in percentage
             *     points per 30 days; absent with fewer than two scored days.
             */
            trend?: number;
        };
        /** @description What a user hears about one child. */
        Subscription: {
            /** @description The child, `children/{child}`. Required on create. */
            child: string;
            /**
             * Format: date-time
             * @description When it was created.
             */
            createTime: $Read<string>;
            /** @description The event types to hear about; empty means all of them. */
            eventTypes?: components["schemas"]["EventType"][];
            /** @description Hear nothing about the child, whatever event_types says. */
            muted?: boolean;
            /** @description The resource name, `users/{user}/subscriptions/{child}`. */
            name: $Read<string>;
            /**
             * Format: date-time
             * @description When it last changed.
             */
            updateTime: $Read<string>;
        };
        /** @description A smaller picture of an item. */
        Thumbnail: {
            /**
             * Format: int32
             * @description Height in pixels.
             */
            height?: number;
            /** @description The size's name: "small" (fits 320 px) or "large" (fits 1280 px). */
            size?: string;
            /**
             * Format: int32
             * @description Width in pixels.
             */
            width?: number;
        };
        /** @description Request of UnsubscribeDigest. */
        UnsubscribeDigestRequest: {
            /**
             * @description The unsubscribe token of a digest mail (from its `List-Unsubscribe`
             *     URL or its unsubscribe link), 43 characters of base64url. Required.
             */
            token: string;
        };
        /** @description Answer of UnsubscribeDigest: the digest is off. */
        UnsubscribeDigestResponse: Record<string, never>;
        /**
         * @description A user as the progress service knows them. Users are not stored: the id
         *     and the administrator flag come from the caller's token, the children
         *     from the guardianships that name the user.
         */
        User: {
            /**
             * @description Whether the user is an administrator, who may manage every child and
             *     guardianship (from the token). Absent in JSON when false.
             */
            administrator?: $Read<boolean>;
            /**
             * @description The children the user is a guardian or contributor of, oldest child
             *     first (by creation, the order of ListChildren), at most 1000: a
             *     teacher following several classes fits, and the answer stays bounded.
             *     Beyond that `childrenTruncated` is set and ListChildren pages through
             *     them all. Administrators are listed only the children they hold a
             *     guardianship of themselves (ListChildren lists every child for them).
             *     A deleted child, or a revoked guardianship, is no longer listed.
             *     Absent in JSON when empty.
             */
            children?: $Read<components["schemas"]["FollowedChild"][]>;
            /** @description True when the user follows more children than `children` lists. */
            childrenTruncated?: $Read<boolean>;
            /**
             * @description The resource name, `users/{user}`, where {user} is the `sub` claim of
             *     the caller's token: never `users/me`, even when asked for by that name.
             */
            name: $Read<string>;
        };
        /** @description A user's settings: the singleton `users/{user}/settings`. */
        UserSettings: {
            /**
             * @description Whether a daily digest of the notifications is mailed; false by
             *     default. It goes only to a confirmed address, or to the sign-in
             *     provider's verified one.
             */
            digestEnabled?: boolean;
            /**
             * @description The e-mail address for the digest: a bare address (no display name),
             *     at most 254 characters; empty for none. When the user set none and
             *     the sign-in provider vouches for one, it is that one (email_state
             *     EMAIL_STATE_FROM_IDENTITY). Setting one mails a confirmation link.
             */
            email?: string;
            /** @description Whether `email` may receive mail. */
            emailState: $Read<components["schemas"]["EmailState"]>;
            /**
             * @description Changes whenever the settings do. Send it back with an update to make
             *     the update only if nothing changed since (ABORTED otherwise).
             */
            etag?: string;
            /**
             * @description The resource name, `users/{user}/settings` (`users/me/settings` is
             *     accepted in requests).
             */
            name: $Read<string>;
            /** @description When live feeds stay silent; unset for never. */
            quietHours?: components["schemas"]["QuietHours"];
            /**
             * @description The user's time zone, an IANA name such as "Europe/Lisbon"; "UTC" by
             *     default. Quiet hours and the digest's days are in it.
             */
            timeZone?: string;
            /**
             * Format: date-time
             * @description When the settings last changed; unset while they are the defaults.
             */
            updateTime?: $Read<string>;
        };
    };
    responses: {
        /** @description INVALID_ARGUMENT or FAILED_PRECONDITION: the request is wrong. A `google.rpc.BadRequest` detail names each field (its JSON path) and what is wrong with it. */
        BadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description ABORTED (the `etag` sent is no longer current) or ALREADY_EXISTS. */
        Conflict: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description An error, as a `google.rpc.Status`. */
        Error: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description A raw body without `Content-Length`; the size is checked before anything is stored. */
        LengthRequired: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description NOT_FOUND: no such resource, or one the caller may not see (the two are not told apart). */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description The file is larger than its kind allows (reason TOO_LARGE). */
        PayloadTooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description PERMISSION_DENIED: the caller may see the resource but lacks the role for this. */
        PermissionDenied: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description RESOURCE_EXHAUSTED: a rate limit or a cap (the reason is in a `google.rpc.ErrorInfo` detail). `Retry-After` is set unless waiting does not help (a cap on what the caller holds open). */
        TooManyRequests: {
            headers: {
                "Retry-After": components["headers"]["RetryAfter"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description Too many uploads under way (TOO_MANY_UPLOADS, UPLOAD_QUOTA: plain text), a rate limit (a `Status`), or media away: retry after `Retry-After`. */
        TusBusy: {
            headers: {
                "Retry-After": components["headers"]["RetryAfter"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
                "text/plain": string;
            };
        };
        /** @description A tus error, plain text `REASON: message` (for example `TOO_LARGE: ...`, `UNSUPPORTED_TYPE: ...`, `ERR_UPLOAD_NOT_FOUND: ...`). */
        TusRefused: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "text/plain": string;
            };
        };
        /** @description `Tus-Resumable` is missing or not `1.0.0`. */
        TusVersionUnsupported: {
            headers: {
                /** @description `1.0.0`. */
                "Tus-Version"?: string;
                [name: string]: unknown;
            };
            content: {
                "text/plain": string;
            };
        };
        /** @description UNAUTHENTICATED: no token, or one that is not valid. */
        Unauthenticated: {
            headers: {
                /** @description `Bearer realm="kinbridge"`. */
                "WWW-Authenticate"?: string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description UNAVAILABLE: a service behind the gateway does not answer; retry after `Retry-After`. */
        Unavailable: {
            headers: {
                "Retry-After": components["headers"]["RetryAfter"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
        /** @description The bytes are of a type that is not accepted (reason UNSUPPORTED_TYPE). */
        UnsupportedMediaType: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Status"];
            };
        };
    };
    parameters: {
        /** @description The child's id: the last part of its name, `children/{child}`. */
        ChildPath: string;
        /** @description The media item's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
        MediaItemPath: string;
        /** @description The tus version, `1.0.0`. */
        TusResumable: "1.0.0";
    };
    requestBodies: never;
    headers: {
        /** @description `bytes`. */
        AcceptRanges: string;
        /** @description `private, max-age=0, must-revalidate`. */
        CacheControl: string;
        /** @description `inline` with a safe file name. */
        ContentDisposition: string;
        /** @description The content's entity tag, quoted. */
        ETag: string;
        /** @description On the answer that completes an upload, the item it became, `children/{child}/media/{mediaItem}`. */
        KinbridgeMediaItem: string;
        /** @description When the item was uploaded. */
        LastModified: string;
        /** @description Seconds to wait before trying again. */
        RetryAfter: number;
        /** @description `1.0.0`. */
        TusResumable: string;
        /** @description How many bytes the server has. */
        UploadOffset: number;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    GetDocsPage: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description An HTML page. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            429: components["responses"]["TooManyRequests"];
        };
    };
    CheckLiveness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Up. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @enum {string} */
                        status: "ok";
                    };
                };
            };
            429: components["responses"]["TooManyRequests"];
        };
    };
    GetOpenAPIDocument: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI 3 document, JSON. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            429: components["responses"]["TooManyRequests"];
        };
    };
    CheckReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every service is serving. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
            429: components["responses"]["TooManyRequests"];
            /** @description Some service is not serving. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
        };
    };
    ListChildren: {
        parameters: {
            query?: {
                /** @description How many children to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListChildrenResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateChild: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The child to create; `displayName` is required. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Child"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Child"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetChild: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Child"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteChild: {
        parameters: {
            query?: {
                /** @description When set, the delete happens only if this is the child's current etag. */
                etag?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UpdateChild: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        /** @description The child with its `name` and the new values; its `etag`, when set, must be current. */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * @description The date of birth as `YYYY-MM-DD`, from 1900-01-01 and not in the
                     *     future; empty when not given.
                     */
                    birthDate?: string;
                    /**
                     * Format: date-time
                     * @description When the child was created.
                     */
                    createTime: $Read<string>;
                    /**
                     * @description The name shown to family members, for example "Ada". Required when
                     *     creating a child; an update that names it in its mask may not clear it.
                     */
                    displayName?: string;
                    /**
                     * @description A checksum of the current state. Send it back on update or delete to
                     *     make the write fail with ABORTED if someone else changed the child since.
                     */
                    etag?: string;
                    /** @description The grade or class the child is in, as the school names it ("3", "K", "Year 5"). */
                    gradeLevel?: string;
                    /**
                     * @description Whether the child's guardians and contributors may invite relatives
                     *     (CreateInvitation); administrators always may. Only administrators
                     *     may set it. Defaults to false. Turning it off revokes the active
                     *     invitations that guardians and contributors sent, at once.
                     */
                    guardiansMayInvite?: boolean;
                    /**
                     * @description Whether what contributors record or upload for the child waits for
                     *     approval before guardians see it: assessments, milestones and media
                     *     items created by a contributor who is not an administrator are then
                     *     drafts (PUBLISH_STATE_DRAFT) until another contributor or an
                     *     administrator approves them, and so is a contributor's edit of what
                     *     was published. Set by administrators only. Turning it off publishes
                     *     no existing draft: each still needs its approval.
                     */
                    requireApproval?: boolean;
                    /** @description The school the child attends. */
                    school?: string;
                    /**
                     * @description The child's IANA time zone, for example "Europe/Lisbon". Dates recorded
                     *     for the child are days in this zone. Defaults to "UTC".
                     */
                    timeZone?: string;
                    /**
                     * Format: date-time
                     * @description When the child was last changed.
                     */
                    updateTime: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Child"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListAssessments: {
        parameters: {
            query?: {
                /** @description How many assessments to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call with the same filters. */
                pageToken?: string;
                /** @description Only this subject (exact match). */
                subject?: string;
                /**
                 * @description Only this kind.
                 *
                 *      - ASSESSMENT_KIND_UNSPECIFIED: Not set; invalid.
                 *      - ASSESSMENT_KIND_TEST: A test or quiz.
                 *      - ASSESSMENT_KIND_HOMEWORK: Homework.
                 *      - ASSESSMENT_KIND_PROJECT: A project.
                 *      - ASSESSMENT_KIND_REPORT_CARD: A grade on a report card.
                 *      - ASSESSMENT_KIND_TEACHER_NOTE: A teacher's note; never scored, counted only as an entry.
                 */
                kind?: "ASSESSMENT_KIND_UNSPECIFIED" | "ASSESSMENT_KIND_TEST" | "ASSESSMENT_KIND_HOMEWORK" | "ASSESSMENT_KIND_PROJECT" | "ASSESSMENT_KIND_REPORT_CARD" | "ASSESSMENT_KIND_TEACHER_NOTE";
                /**
                 * @description Only assessments on or after this day, `YYYY-MM-DD` (1900-01-01 to
                 *     2199-12-31, like every date).
                 */
                startDate?: string;
                /**
                 * @description Only assessments on or before this day, `YYYY-MM-DD` (1900-01-01 to
                 *     2199-12-31).
                 */
                endDate?: string;
                /**
                 * @description Only assessments in this state. Guardians never see drafts: for them
                 *     PUBLISH_STATE_DRAFT lists nothing.
                 *
                 *      - PUBLISH_STATE_UNSPECIFIED: Not set.
                 *      - PUBLISH_STATE_DRAFT: Recorded or edited by a contributor for a child that requires approval
                 *     and not yet approved: only contributors and administrators see it.
                 *      - PUBLISH_STATE_PUBLISHED: Visible to everyone who follows the child.
                 */
                state?: "PUBLISH_STATE_UNSPECIFIED" | "PUBLISH_STATE_DRAFT" | "PUBLISH_STATE_PUBLISHED";
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListAssessmentsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateAssessment: {
        parameters: {
            query?: {
                /**
                 * @description A client-chosen id that makes retries safe: a second request with the
                 *     same id for the same child returns the first result.
                 */
                requestId?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        /** @description The assessment; `subject`, `title`, `kind` and `assessedDate` are required. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Assessment"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Assessment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetAssessment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Assessment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteAssessment: {
        parameters: {
            query?: {
                /** @description When set, the delete happens only if this is the current etag. */
                etag?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UpdateAssessment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
            };
            cookie?: never;
        };
        /** @description The assessment with its `name` and the new values. */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * Format: date-time
                     * @description When the draft was approved; absent when it was published at once, and
                     *     while it is a draft.
                     */
                    approveTime?: $Read<string>;
                    /**
                     * @description The user who approved the draft; empty when it was published at once,
                     *     and while it is a draft (again, after an edit).
                     */
                    approvedBy?: $Read<string>;
                    /**
                     * @description The day the work was assessed, `YYYY-MM-DD` in the child's time zone,
                     *     from 1900-01-01 to 2199-12-31. Required on create.
                     */
                    assessedDate?: string;
                    /**
                     * Format: date-time
                     * @description When it was recorded.
                     */
                    createTime: $Read<string>;
                    /** @description A checksum of the current state, checked on update and delete when sent. */
                    etag?: string;
                    /** @description The kind of work. Required on create. */
                    kind?: components["schemas"]["AssessmentKind"];
                    /**
                     * Format: double
                     * @description The score as a percentage (see GetProgressSummary); absent when
                     *     unscored or when the letter grade is not on the child's scale.
                     */
                    percent?: $Read<number>;
                    /**
                     * @description The reactions and comments on it, as the caller sees them; absent
                     *     while nobody reacted to it or commented on it.
                     */
                    reactions?: $Read<components["schemas"]["ReactionSummary"]>;
                    /** @description The user who recorded it. */
                    recordedBy: $Read<string>;
                    /** @description The score; absent for unscored work and teacher notes. */
                    score?: components["schemas"]["Score"];
                    /**
                     * @description Whether guardians see it: DRAFT until approved when the child requires
                     *     approval (only contributors and administrators see drafts), PUBLISHED
                     *     otherwise.
                     */
                    state?: $Read<components["schemas"]["PublishState"]>;
                    /** @description The subject, for example "Math". Required on create. */
                    subject?: string;
                    /** @description What the teacher wrote. */
                    teacherComment?: string;
                    /** @description What was assessed, for example "Fractions quiz". Required on create. */
                    title?: string;
                    /**
                     * Format: date-time
                     * @description When it last changed.
                     */
                    updateTime: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Assessment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListComments: {
        parameters: {
            query?: {
                /** @description How many comments to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListCommentsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateComment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
            };
            cookie?: never;
        };
        /** @description The comment; `text` is required. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Comment"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Comment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteComment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
                /** @description The comment's id: the last part of its name, `children/{child}/assessments/{assessment}/comments/{comment}`. */
                comment: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListReactions: {
        parameters: {
            query?: {
                /** @description How many reactions to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListReactionsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    SetReaction: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
                /** @description The reaction's id: the last part of its name, `children/{child}/assessments/{assessment}/reactions/{reaction}`. */
                reaction: string;
            };
            cookie?: never;
        };
        /** @description The reaction with its `name`, `{item}/reactions/me`, and its `kind`. */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * Format: date-time
                     * @description When the user first reacted to the item.
                     */
                    createTime: $Read<string>;
                    /** @description The reaction. Required when setting one. */
                    kind?: components["schemas"]["ReactionKind"];
                    /**
                     * Format: date-time
                     * @description When the user last changed their reaction.
                     */
                    updateTime: $Read<string>;
                    /** @description The user who reacted. */
                    user: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Reaction"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteReaction: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
                /** @description The reaction's id: the last part of its name, `children/{child}/assessments/{assessment}/reactions/{reaction}`. */
                reaction: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ApproveAssessment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The assessment's id: the last part of its name, `children/{child}/assessments/{assessment}`. */
                assessment: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ApproveAssessmentBody"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Assessment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetGradingScale: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GradingScale"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UpdateGradingScale: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        /** @description The new scale with its `name`; it replaces the whole table. */
        requestBody: {
            content: {
                "application/json": {
                    /** @description A checksum of the current state, checked on update when sent. */
                    etag?: string;
                    /**
                     * @description The letters and their percentages; letters are unique (compared
                     *     without regard to case).
                     */
                    grades?: components["schemas"]["GradeMapping"][];
                    /**
                     * Format: date-time
                     * @description When the scale was last set; absent while it is the default.
                     */
                    updateTime?: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GradingScale"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListGuardianships: {
        parameters: {
            query?: {
                /** @description How many guardianships to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListGuardianshipsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateGuardianship: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        /** @description The guardianship to create; `user` and `role` are required. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Guardianship"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Guardianship"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetGuardianship: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The guardian's id: the last part of its name, `children/{child}/guardians/{guardian}`. */
                guardian: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Guardianship"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteGuardianship: {
        parameters: {
            query?: {
                /** @description When set, the delete happens only if this is the guardianship's current etag. */
                etag?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The guardian's id: the last part of its name, `children/{child}/guardians/{guardian}`. */
                guardian: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UpdateGuardianship: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The guardian's id: the last part of its name, `children/{child}/guardians/{guardian}`. */
                guardian: string;
            };
            cookie?: never;
        };
        /** @description The guardianship with its `name` and the new values. */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * Format: date-time
                     * @description When access was granted.
                     */
                    createTime: $Read<string>;
                    /** @description A checksum of the current state, checked on update and delete when sent. */
                    etag?: string;
                    /** @description How the user relates to the child, for example "mother" or "teacher". */
                    relation?: string;
                    /** @description What the user may do. */
                    role?: components["schemas"]["Role"];
                    /**
                     * Format: date-time
                     * @description When the guardianship last changed.
                     */
                    updateTime: $Read<string>;
                    /** @description The user's id: the `sub` claim of their token. Required on create, immutable after. */
                    user?: string;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Guardianship"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListInvitations: {
        parameters: {
            query?: {
                /** @description How many invitations to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListInvitationsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateInvitation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        /** @description The invitation: `role`, `relation` and `ttl` may be set, each optional. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Invitation"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Invitation"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetInvitation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The invitation's id: the last part of its name, `children/{child}/invitations/{invitation}`. */
                invitation: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Invitation"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    RevokeInvitation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The invitation's id: the last part of its name, `children/{child}/invitations/{invitation}`. */
                invitation: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RevokeInvitationBody"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Invitation"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListMediaItems: {
        parameters: {
            query?: {
                /** @description How many items to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call with the same filters. */
                pageToken?: string;
                /**
                 * @description Only this kind.
                 *
                 *      - MEDIA_KIND_UNSPECIFIED: Not set.
                 *      - MEDIA_KIND_ARTWORK: A drawing or painting, usually photographed or scanned.
                 *      - MEDIA_KIND_PHOTO: A photo.
                 *      - MEDIA_KIND_VIDEO: A video.
                 *      - MEDIA_KIND_DOCUMENT: A scanned worksheet, test or report, as a picture (PDF is not accepted).
                 */
                kind?: "MEDIA_KIND_UNSPECIFIED" | "MEDIA_KIND_ARTWORK" | "MEDIA_KIND_PHOTO" | "MEDIA_KIND_VIDEO" | "MEDIA_KIND_DOCUMENT";
                /** @description Only items uploaded on or after this day, `YYYY-MM-DD` (UTC). */
                startDate?: string;
                /** @description Only items uploaded on or before this day, `YYYY-MM-DD` (UTC). */
                endDate?: string;
                /**
                 * @description Only items in this publish state. Guardians never see drafts: for them
                 *     PUBLISH_STATE_DRAFT lists nothing.
                 *
                 *      - PUBLISH_STATE_UNSPECIFIED: Not set.
                 *      - PUBLISH_STATE_DRAFT: Recorded or edited by a contributor for a child that requires approval
                 *     and not yet approved: only contributors and administrators see it.
                 *      - PUBLISH_STATE_PUBLISHED: Visible to everyone who follows the child.
                 */
                publishState?: "PUBLISH_STATE_UNSPECIFIED" | "PUBLISH_STATE_DRAFT" | "PUBLISH_STATE_PUBLISHED";
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListMediaItemsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetMediaItem: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MediaItem"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteMediaItem: {
        parameters: {
            query?: {
                /** @description When set, the delete happens only if this is the current etag. */
                etag?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UpdateMediaItem: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
            };
            cookie?: never;
        };
        /** @description The item with its `name` and the new values. */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * Format: date-time
                     * @description When the draft was approved; absent when it was published at once, and
                     *     while it is a draft.
                     */
                    approveTime?: $Read<string>;
                    /**
                     * @description The user who approved the draft; empty when it was published at once,
                     *     and while it is a draft (again, after an edit).
                     */
                    approvedBy?: $Read<string>;
                    /** @description A caption or story. */
                    caption?: string;
                    /**
                     * @description Hex SHA-256 of the bytes as stored (the upload rebuilt from an
                     *     allowlist, see docs/privacy.md): the ETag.
                     */
                    contentSha256?: $Read<string>;
                    /** @description The type sniffed from the bytes, for example "image/jpeg". */
                    contentType?: $Read<string>;
                    /**
                     * Format: date-time
                     * @description When it was uploaded.
                     */
                    createTime: $Read<string>;
                    /** @description Duration of a video, when known. */
                    duration?: $Read<string>;
                    /** @description A checksum of the item's state, checked on update and delete when sent. */
                    etag?: string;
                    /**
                     * @description Why processing failed, for FAILED items: a fixed sentence for people
                     *     (too large, a kind of file with no preview, or one that cannot be read),
                     *     never a program's own output, which names files on the server.
                     */
                    failureReason?: $Read<string>;
                    /**
                     * Format: int32
                     * @description Height in pixels, when known.
                     */
                    height?: $Read<number>;
                    /** @description What it is. */
                    kind?: components["schemas"]["MediaKind"];
                    /**
                     * @description Hex SHA-256 of the bytes as uploaded: verified against the client's,
                     *     and used to store the same upload once.
                     */
                    originalSha256?: $Read<string>;
                    /**
                     * @description Whether guardians see it: DRAFT until approved when the child requires
                     *     approval (only contributors and administrators see drafts), PUBLISHED
                     *     otherwise. (`state` is where the item is in its processing.)
                     */
                    publishState?: $Read<components["schemas"]["PublishState"]>;
                    /**
                     * @description The reactions and comments on it, as the caller sees them; absent
                     *     while nobody reacted to it or commented on it.
                     */
                    reactions?: $Read<components["schemas"]["ReactionSummary"]>;
                    /**
                     * Format: int64
                     * @description The size of the stored bytes.
                     */
                    sizeBytes?: $Read<string>;
                    /** @description Where the item is in its life. */
                    state?: $Read<components["schemas"]["MediaState"]>;
                    /**
                     * Format: date-time
                     * @description When the photo or video was taken, when the file says.
                     */
                    takenTime?: $Read<string>;
                    /** @description The thumbnails made so far. */
                    thumbnails?: $Read<components["schemas"]["Thumbnail"][]>;
                    /** @description A title, for example "Self-portrait in blue". */
                    title?: string;
                    /**
                     * Format: date-time
                     * @description When it last changed.
                     */
                    updateTime: $Read<string>;
                    /** @description The user who uploaded it. */
                    uploadedBy: $Read<string>;
                    /**
                     * Format: int32
                     * @description Width in pixels, when known.
                     */
                    width?: $Read<number>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MediaItem"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListMediaComments: {
        parameters: {
            query?: {
                /** @description How many comments to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListCommentsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateMediaComment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
            };
            cookie?: never;
        };
        /** @description The comment; `text` is required. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Comment"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Comment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteMediaComment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
                /** @description The comment's id: the last part of its name, `children/{child}/media/{mediaItem}/comments/{comment}`. */
                comment: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListMediaReactions: {
        parameters: {
            query?: {
                /** @description How many reactions to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListReactionsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    SetMediaReaction: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
                /** @description The reaction's id: the last part of its name, `children/{child}/media/{mediaItem}/reactions/{reaction}`. */
                reaction: string;
            };
            cookie?: never;
        };
        /**
         * @description The reaction with its `name`, `children/{child}/media/{media}/reactions/me`,
         *     and its `kind`.
         */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * Format: date-time
                     * @description When the user first reacted to the item.
                     */
                    createTime: $Read<string>;
                    /** @description The reaction. Required when setting one. */
                    kind?: components["schemas"]["ReactionKind"];
                    /**
                     * Format: date-time
                     * @description When the user last changed their reaction.
                     */
                    updateTime: $Read<string>;
                    /** @description The user who reacted. */
                    user: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Reaction"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteMediaReaction: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
                /** @description The reaction's id: the last part of its name, `children/{child}/media/{mediaItem}/reactions/{reaction}`. */
                reaction: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ApproveMediaItem: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The mediaItem's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ApproveMediaItemBody"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MediaItem"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ReadMediaItemContent: {
        parameters: {
            query?: {
                /** @description Read a thumbnail instead of the item (always JPEG); see the item's `thumbnails`. */
                thumbnail?: "small" | "large";
            };
            header?: {
                /** @description One byte range, as RFC 9110 says, for example `bytes=0-1023`; answered with 206. */
                Range?: string;
                /** @description The item's `ETag`; answered with 304 while it is current. */
                "If-None-Match"?: string;
                /** @description Serve the Range only while this ETag is current, the whole item otherwise. */
                "If-Range"?: string;
            };
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: components["parameters"]["ChildPath"];
                /** @description The media item's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: components["parameters"]["MediaItemPath"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole content. */
            200: {
                headers: {
                    "Accept-Ranges": components["headers"]["AcceptRanges"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    "Content-Disposition": components["headers"]["ContentDisposition"];
                    ETag: components["headers"]["ETag"];
                    "Last-Modified": components["headers"]["LastModified"];
                    [name: string]: unknown;
                };
                content: {
                    "*/*": Blob;
                };
            };
            /** @description The range asked for. */
            206: {
                headers: {
                    "Accept-Ranges": components["headers"]["AcceptRanges"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    "Content-Disposition": components["headers"]["ContentDisposition"];
                    /** @description The range served and the size, `bytes 0-1023/146515`. */
                    "Content-Range"?: string;
                    ETag: components["headers"]["ETag"];
                    "Last-Modified": components["headers"]["LastModified"];
                    [name: string]: unknown;
                };
                content: {
                    "*/*": Blob;
                };
            };
            /** @description Not modified since the ETag in `If-None-Match`. */
            304: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            404: components["responses"]["NotFound"];
            /** @description The range lies outside the content. */
            416: {
                headers: {
                    /** @description `bytes *\/<size>`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    HeadMediaItemContent: {
        parameters: {
            query?: {
                /** @description Read a thumbnail instead of the item (always JPEG); see the item's `thumbnails`. */
                thumbnail?: "small" | "large";
            };
            header?: {
                /** @description One byte range, as RFC 9110 says, for example `bytes=0-1023`; answered with 206. */
                Range?: string;
                /** @description The item's `ETag`; answered with 304 while it is current. */
                "If-None-Match"?: string;
                /** @description Serve the Range only while this ETag is current, the whole item otherwise. */
                "If-Range"?: string;
            };
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: components["parameters"]["ChildPath"];
                /** @description The media item's id: the last part of its name, `children/{child}/media/{mediaItem}`. */
                mediaItem: components["parameters"]["MediaItemPath"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The headers of the whole content. */
            200: {
                headers: {
                    "Accept-Ranges": components["headers"]["AcceptRanges"];
                    /** @description The size in bytes. */
                    "Content-Length"?: number;
                    ETag: components["headers"]["ETag"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The headers of the range asked for. */
            206: {
                headers: {
                    /** @description The range and the size, `bytes 0-1023/146515`. */
                    "Content-Range"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Not modified since the ETag in `If-None-Match`. */
            304: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No valid token. HEAD answers carry no body. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No such item, or one the caller may not see. HEAD answers carry no body. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The range lies outside the content. */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other error, as GET would answer it, without the body. */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    UploadMediaItem: {
        parameters: {
            query?: {
                /** @description The item's title. */
                title?: string;
                /** @description The item's caption. */
                caption?: string;
                /** @description What the file is; sniffed from the bytes when not given. */
                kind?: "photo" | "video" | "artwork" | "document";
                /** @description The file's name on the uploader's device; a multipart part's file name when not given. */
                filename?: string;
                /** @description The SHA-256 of the file, hex; the upload is refused if the bytes differ. */
                sha256?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: components["parameters"]["ChildPath"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "*/*": Blob;
                "application/octet-stream": Blob;
                "multipart/form-data": {
                    /**
                     * Format: binary
                     * @description The file; the first file part is taken.
                     */
                    file: Blob;
                };
            };
        };
        responses: {
            /** @description The item the upload became. */
            200: {
                headers: {
                    /** @description The item's path, `/v1/children/{child}/media/{mediaItem}`. */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MediaItem"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            411: components["responses"]["LengthRequired"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListMilestones: {
        parameters: {
            query?: {
                /** @description How many milestones to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call with the same filters. */
                pageToken?: string;
                /**
                 * @description Only this category.
                 *
                 *      - MILESTONE_CATEGORY_UNSPECIFIED: Not set.
                 *      - MILESTONE_CATEGORY_ACADEMIC: Learning: reading a first book, mastering times tables.
                 *      - MILESTONE_CATEGORY_SOCIAL: Friendships, teamwork, leadership.
                 *      - MILESTONE_CATEGORY_ARTS: Music, drawing, theatre.
                 *      - MILESTONE_CATEGORY_SPORTS: Sports and games.
                 *      - MILESTONE_CATEGORY_LIFE_SKILLS: Independence: tying shoes, riding the bus alone.
                 *      - MILESTONE_CATEGORY_OTHER: Anything else.
                 */
                category?: "MILESTONE_CATEGORY_UNSPECIFIED" | "MILESTONE_CATEGORY_ACADEMIC" | "MILESTONE_CATEGORY_SOCIAL" | "MILESTONE_CATEGORY_ARTS" | "MILESTONE_CATEGORY_SPORTS" | "MILESTONE_CATEGORY_LIFE_SKILLS" | "MILESTONE_CATEGORY_OTHER";
                /**
                 * @description Only milestones achieved on or after this day, `YYYY-MM-DD` (1900-01-01
                 *     to 2199-12-31, like every date).
                 */
                startDate?: string;
                /**
                 * @description Only milestones achieved on or before this day, `YYYY-MM-DD`
                 *     (1900-01-01 to 2199-12-31).
                 */
                endDate?: string;
                /**
                 * @description Only milestones in this state. Guardians never see drafts: for them
                 *     PUBLISH_STATE_DRAFT lists nothing.
                 *
                 *      - PUBLISH_STATE_UNSPECIFIED: Not set.
                 *      - PUBLISH_STATE_DRAFT: Recorded or edited by a contributor for a child that requires approval
                 *     and not yet approved: only contributors and administrators see it.
                 *      - PUBLISH_STATE_PUBLISHED: Visible to everyone who follows the child.
                 */
                state?: "PUBLISH_STATE_UNSPECIFIED" | "PUBLISH_STATE_DRAFT" | "PUBLISH_STATE_PUBLISHED";
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListMilestonesResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateMilestone: {
        parameters: {
            query?: {
                /** @description A client-chosen id that makes retries safe, as in CreateAssessment. */
                requestId?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        /** @description The milestone; `title` and `achievedDate` are required. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Milestone"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Milestone"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetMilestone: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Milestone"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteMilestone: {
        parameters: {
            query?: {
                /** @description When set, the delete happens only if this is the current etag. */
                etag?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UpdateMilestone: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
            };
            cookie?: never;
        };
        /** @description The milestone with its `name` and the new values. */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * @description The day it was achieved, `YYYY-MM-DD` in the child's time zone, from
                     *     1900-01-01 to 2199-12-31. Required on create.
                     */
                    achievedDate?: string;
                    /**
                     * Format: date-time
                     * @description When the draft was approved; absent when it was published at once, and
                     *     while it is a draft.
                     */
                    approveTime?: $Read<string>;
                    /**
                     * @description The user who approved the draft; empty when it was published at once,
                     *     and while it is a draft (again, after an edit).
                     */
                    approvedBy?: $Read<string>;
                    /** @description The area of life it belongs to. */
                    category?: components["schemas"]["MilestoneCategory"];
                    /**
                     * Format: date-time
                     * @description When it was recorded.
                     */
                    createTime: $Read<string>;
                    /** @description More about it. */
                    description?: string;
                    /** @description A checksum of the current state, checked on update and delete when sent. */
                    etag?: string;
                    /**
                     * @description The reactions and comments on it, as the caller sees them; absent
                     *     while nobody reacted to it or commented on it.
                     */
                    reactions?: $Read<components["schemas"]["ReactionSummary"]>;
                    /** @description The user who recorded it. */
                    recordedBy: $Read<string>;
                    /** @description Whether guardians see it, as for Assessment.state. */
                    state?: $Read<components["schemas"]["PublishState"]>;
                    /** @description What was achieved, for example "Read a chapter book alone". Required on create. */
                    title?: string;
                    /**
                     * Format: date-time
                     * @description When it last changed.
                     */
                    updateTime: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Milestone"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListComments2: {
        parameters: {
            query?: {
                /** @description How many comments to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListCommentsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateComment2: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
            };
            cookie?: never;
        };
        /** @description The comment; `text` is required. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Comment"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Comment"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteComment2: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
                /** @description The comment's id: the last part of its name, `children/{child}/milestones/{milestone}/comments/{comment}`. */
                comment: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListReactions2: {
        parameters: {
            query?: {
                /** @description How many reactions to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call, to continue after it. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListReactionsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    SetReaction2: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
                /** @description The reaction's id: the last part of its name, `children/{child}/milestones/{milestone}/reactions/{reaction}`. */
                reaction: string;
            };
            cookie?: never;
        };
        /** @description The reaction with its `name`, `{item}/reactions/me`, and its `kind`. */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * Format: date-time
                     * @description When the user first reacted to the item.
                     */
                    createTime: $Read<string>;
                    /** @description The reaction. Required when setting one. */
                    kind?: components["schemas"]["ReactionKind"];
                    /**
                     * Format: date-time
                     * @description When the user last changed their reaction.
                     */
                    updateTime: $Read<string>;
                    /** @description The user who reacted. */
                    user: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Reaction"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteReaction2: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
                /** @description The reaction's id: the last part of its name, `children/{child}/milestones/{milestone}/reactions/{reaction}`. */
                reaction: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ApproveMilestone: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
                /** @description The milestone's id: the last part of its name, `children/{child}/milestones/{milestone}`. */
                milestone: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ApproveMilestoneBody"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Milestone"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetProgressSummary: {
        parameters: {
            query?: {
                /**
                 * @description The first day of the window, inclusive, `YYYY-MM-DD` (1900-01-01 to
                 *     2199-12-31, like every date); empty for "from the beginning".
                 */
                startDate?: string;
                /**
                 * @description The last day of the window, inclusive, `YYYY-MM-DD` (1900-01-01 to
                 *     2199-12-31); empty for "until now".
                 */
                endDate?: string;
            };
            header?: never;
            path: {
                /** @description The child's id: the last part of its name, `children/{child}`. */
                child: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ProgressSummary"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UnsubscribeDigest: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Request of UnsubscribeDigest. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["UnsubscribeDigestRequest"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UnsubscribeDigestResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    RedeemInvitation: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Request of RedeemInvitation. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["RedeemInvitationRequest"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Guardianship"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    StreamNotificationEvents: {
        parameters: {
            query?: {
                /** @description The same as `Last-Event-ID`, for a first connection that resumes; the header wins. */
                last_event_id?: string;
            };
            header?: {
                /** @description Resume after this event's id (EventSource sends it when it reconnects). */
                "Last-Event-ID"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The event stream; it lasts until either side closes it. */
            200: {
                headers: {
                    /** @description `no-cache`. */
                    "Cache-Control"?: string;
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example retry: 2000
                     *     id: 41
                     *
                     *     id: 42
                     *     event: notification
                     *     data: {"name":"users/maria/notifications/42"}
                     */
                    "text/event-stream": string;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    StreamNotificationFrames: {
        parameters: {
            query?: {
                /** @description Continue after this `resumeToken`. */
                resume?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching protocols: the WebSocket is open; its messages are `LiveFrame`s as JSON. */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LiveFrame"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ConfirmEmail: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Request of ConfirmEmail. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["ConfirmEmailRequest"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ConfirmEmailResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateTusUpload: {
        parameters: {
            query?: never;
            header: {
                /** @description The tus version, `1.0.0`. */
                "Tus-Resumable": components["parameters"]["TusResumable"];
                /** @description The file's size in bytes; deferring it is not supported. */
                "Upload-Length": number;
                /** @description Comma-separated `key base64(value)` pairs; `child` (`children/{child}`) is required. */
                "Upload-Metadata": string;
            };
            path?: never;
            cookie?: never;
        };
        /** @description The first bytes (creation-with-upload); none is fine. */
        requestBody?: {
            content: {
                "application/offset+octet-stream": Blob;
            };
        };
        responses: {
            /** @description Created. */
            201: {
                headers: {
                    "Kinbridge-Media-Item": components["headers"]["KinbridgeMediaItem"];
                    /** @description The upload's URL, `/v1/uploads/{upload}`. */
                    Location?: string;
                    "Tus-Resumable": components["headers"]["TusResumable"];
                    "Upload-Offset": components["headers"]["UploadOffset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["TusRefused"];
            401: components["responses"]["Unauthenticated"];
            404: components["responses"]["TusRefused"];
            412: components["responses"]["TusVersionUnsupported"];
            413: components["responses"]["TusRefused"];
            415: components["responses"]["TusRefused"];
            429: components["responses"]["TusBusy"];
            503: components["responses"]["TusBusy"];
            default: components["responses"]["TusRefused"];
        };
    };
    DiscoverTusUploads: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The tus versions, extensions and largest size. */
            200: {
                headers: {
                    /** @description The extensions supported, `creation,creation-with-upload,termination`. */
                    "Tus-Extension"?: string;
                    /** @description The largest upload, in bytes (the largest kind's limit). */
                    "Tus-Max-Size"?: number;
                    "Tus-Resumable": components["headers"]["TusResumable"];
                    /** @description `1.0.0`. */
                    "Tus-Version"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            429: components["responses"]["TooManyRequests"];
        };
    };
    CancelTusUpload: {
        parameters: {
            query?: never;
            header: {
                /** @description The tus version, `1.0.0`. */
                "Tus-Resumable": components["parameters"]["TusResumable"];
            };
            path: {
                /** @description The upload's id, the last part of the `Location` its creation answered. */
                upload: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Cancelled. */
            204: {
                headers: {
                    "Tus-Resumable": components["headers"]["TusResumable"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            401: components["responses"]["Unauthenticated"];
            404: components["responses"]["TusRefused"];
            412: components["responses"]["TusVersionUnsupported"];
            default: components["responses"]["TusRefused"];
        };
    };
    DiscoverTusUpload: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The upload's id, the last part of the `Location` its creation answered. */
                upload: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The tus versions, extensions and largest size. */
            200: {
                headers: {
                    "Tus-Resumable": components["headers"]["TusResumable"];
                    /** @description `1.0.0`. */
                    "Tus-Version"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            429: components["responses"]["TooManyRequests"];
        };
    };
    GetTusUploadOffset: {
        parameters: {
            query?: never;
            header: {
                /** @description The tus version, `1.0.0`. */
                "Tus-Resumable": components["parameters"]["TusResumable"];
            };
            path: {
                /** @description The upload's id, the last part of the `Location` its creation answered. */
                upload: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The upload's state. */
            200: {
                headers: {
                    /** @description `no-store`. */
                    "Cache-Control"?: string;
                    "Kinbridge-Media-Item": components["headers"]["KinbridgeMediaItem"];
                    "Tus-Resumable": components["headers"]["TusResumable"];
                    /** @description The file's size in bytes. */
                    "Upload-Length"?: number;
                    /** @description The upload's metadata, as sent (less `sha256`). */
                    "Upload-Metadata"?: string;
                    "Upload-Offset": components["headers"]["UploadOffset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No valid token. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No such upload, or one that was refused, cancelled or expired. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Another request is writing or finishing the upload; retry shortly. */
            423: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other failure (HEAD answers carry no body). */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    WriteTusUpload: {
        parameters: {
            query?: never;
            header: {
                /** @description The tus version, `1.0.0`. */
                "Tus-Resumable": components["parameters"]["TusResumable"];
                /** @description Where these bytes go; must be the offset HEAD answers. */
                "Upload-Offset": number;
            };
            path: {
                /** @description The upload's id, the last part of the `Location` its creation answered. */
                upload: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/offset+octet-stream": Blob;
            };
        };
        responses: {
            /** @description The bytes are stored. The last PATCH answers once the item exists. */
            204: {
                headers: {
                    "Kinbridge-Media-Item": components["headers"]["KinbridgeMediaItem"];
                    "Tus-Resumable": components["headers"]["TusResumable"];
                    "Upload-Offset": components["headers"]["UploadOffset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["TusRefused"];
            401: components["responses"]["Unauthenticated"];
            404: components["responses"]["TusRefused"];
            /** @description `Upload-Offset` is not the upload's offset: ask with HEAD and resume from there. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            412: components["responses"]["TusVersionUnsupported"];
            413: components["responses"]["TusRefused"];
            415: components["responses"]["TusRefused"];
            /** @description Another request is writing or finishing the upload; retry shortly. */
            423: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            429: components["responses"]["TusBusy"];
            503: components["responses"]["TusBusy"];
            default: components["responses"]["TusRefused"];
        };
    };
    GetUser: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListNotifications: {
        parameters: {
            query?: {
                /** @description How many notifications to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call with the same filter. */
                pageToken?: string;
                /** @description Only unread notifications. */
                unreadOnly?: boolean;
            };
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListNotificationsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CountUnreadNotifications: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CountUnreadNotificationsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    MarkNotificationsRead: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["MarkNotificationsReadBody"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MarkNotificationsReadResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    StreamNotifications: {
        parameters: {
            query?: {
                /**
                 * @description Resume after this sequence: every later notification is sent first
                 *     (0 replays the whole inbox). Empty starts with what arrives from now on.
                 *     It must be a sequence the inbox has reached: see StreamNotifications.
                 */
                resumeToken?: string;
            };
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A stream of JSON objects, one per line: each holds a message in `result`, or, last, the status the stream ended with in `error`. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        error?: components["schemas"]["Status"];
                        result?: components["schemas"]["StreamNotificationsResponse"];
                    };
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetUserSettings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserSettings"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UpdateUserSettings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        /** @description The settings with their `name` and the new values. */
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * @description Whether a daily digest of the notifications is mailed; false by
                     *     default. It goes only to a confirmed address, or to the sign-in
                     *     provider's verified one.
                     */
                    digestEnabled?: boolean;
                    /**
                     * @description The e-mail address for the digest: a bare address (no display name),
                     *     at most 254 characters; empty for none. When the user set none and
                     *     the sign-in provider vouches for one, it is that one (email_state
                     *     EMAIL_STATE_FROM_IDENTITY). Setting one mails a confirmation link.
                     */
                    email?: string;
                    /** @description Whether `email` may receive mail. */
                    emailState: $Read<components["schemas"]["EmailState"]>;
                    /**
                     * @description Changes whenever the settings do. Send it back with an update to make
                     *     the update only if nothing changed since (ABORTED otherwise).
                     */
                    etag?: string;
                    /** @description When live feeds stay silent; unset for never. */
                    quietHours?: components["schemas"]["QuietHours"];
                    /**
                     * @description The user's time zone, an IANA name such as "Europe/Lisbon"; "UTC" by
                     *     default. Quiet hours and the digest's days are in it.
                     */
                    timeZone?: string;
                    /**
                     * Format: date-time
                     * @description When the settings last changed; unset while they are the defaults.
                     */
                    updateTime?: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserSettings"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    ListSubscriptions: {
        parameters: {
            query?: {
                /** @description How many to return at most, 1 to 1000; 0 means 50. */
                pageSize?: number;
                /** @description The `nextPageToken` of a previous call. */
                pageToken?: string;
            };
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ListSubscriptionsResponse"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    CreateSubscription: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
            };
            cookie?: never;
        };
        /** @description The subscription; `child` is required. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["Subscription"];
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    GetSubscription: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
                /** @description The subscription's id: the last part of its name, `users/{user}/subscriptions/{subscription}`. */
                subscription: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    DeleteSubscription: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
                /** @description The subscription's id: the last part of its name, `users/{user}/subscriptions/{subscription}`. */
                subscription: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
    UpdateSubscription: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The user's id: the last part of its name, `users/{user}`. */
                user: string;
                /** @description The subscription's id: the last part of its name, `users/{user}/subscriptions/{subscription}`. */
                subscription: string;
            };
            cookie?: never;
        };
        /** @description The subscription with its `name` and the new values. */
        requestBody: {
            content: {
                "application/json": {
                    /** @description The child, `children/{child}`. Required on create. */
                    child?: string;
                    /**
                     * Format: date-time
                     * @description When it was created.
                     */
                    createTime: $Read<string>;
                    /** @description The event types to hear about; empty means all of them. */
                    eventTypes?: components["schemas"]["EventType"][];
                    /** @description Hear nothing about the child, whatever event_types says. */
                    muted?: boolean;
                    /**
                     * Format: date-time
                     * @description When it last changed.
                     */
                    updateTime: $Read<string>;
                };
            };
        };
        responses: {
            /** @description A successful response. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthenticated"];
            403: components["responses"]["PermissionDenied"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            503: components["responses"]["Unavailable"];
            default: components["responses"]["Error"];
        };
    };
}
