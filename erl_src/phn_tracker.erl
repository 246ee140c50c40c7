%% @doc A native table of pending cross-node operations: what a coordinator keeps in
%% `pending_operations', with chunk-aware completion, O(1) response recording and expiry
%% by a min-heap (the fixes of DESIGN.md "Beyond ProcessHub").
%%
%% A tracker is a NIF resource owned by the process that called {@link new/1} and
%% monitored: when the owner exits, every operation is freed and the tracker reads as empty
%% and closed (from any process). Any process holding the tracker may use it; a mutex
%% serialises the calls.
%%
%% An operation is keyed by its transaction reference, compared with `=:=' (see
%% "References" below). It expects responses from nodes (atoms), each
%% node a number of chunks: a node sent more children than one batch answers once per
%% batch. Responses from other nodes and chunks beyond the expected count are ignored and
%% counted. Each node's chunk results are kept in arrival order and handed back
%% concatenated.
%%
%% Costs: `record/4' is O(1) in the number of nodes and of operations (plus the copy of
%% `Results'); `count/3' is O(1) and keeps nothing; `cleanup_expired/1' is O(k log n) for
%% k expired of n; `track/4' is O(nodes). Calls that would copy more than about 10 000
%% elements run on a dirty CPU scheduler, and operations or tables that are costly to free
%% are freed by a background thread, so no call holds a normal scheduler for more than
%% about a millisecond.
%%
%% References: `Ref' may be any term of atoms, integers of at most 64 bits, floats, pids,
%% ports, references, binaries, lists, tuples and maps whose size is at most 255, counted
%% as 8 per term and per list cell plus the bytes of its binaries (a reference counts 8, a
%% `{Ref, Node}' tuple 24); the check stops at the cap, so a huge term costs no more than
%% a small one. Funs, bigger integers and bitstrings that are not whole bytes are refused
%% (`badarg'), as is anything past the cap. The key is the term itself, not its encoding:
%% a local reference finds its operation before and after the node starts (or restarts)
%% distribution.
%%
%% Lifetime: the owner keeps its tracker alive. A tracker no term refers to lives on until
%% its owner exits or `close/1' is called; then its operations are freed, and the tracker
%% itself once no term refers to it either.
-module(phn_tracker).

-export([new/0,
         new/1,
         track/4,
         record/4,
         record/5,
         count/3,
         get/2,
         peek/2,
         take/2,
         cancel/2,
         update/3,
         update_meta/3,
         cleanup_expired/1,
         cleanup_expired/2,
         cleanup_expired/3,
         drop_expired/1,
         drop_expired/2,
         take_expired/2,
         size/1,
         stats/0,
         stats/1,
         close/1]).

-export_type([tracker/0, info/0]).

-opaque tracker() :: reference().
-type ref() :: term().
-type expected() :: [node() | {node(), pos_integer()}].
-type collected() :: [{node(), term()}].
-type info() :: #{ref := ref(),
                  meta := term(),
                  collected := collected(),
                  missing := [node()],
                  deadline := integer() | infinity}.

-define(DEFAULT_MAX_OPS, 16777216).
-define(DEFAULT_MAX_NODES, 65536).
%% Deadlines are signed 64-bit milliseconds; the largest one means "never".
-define(NEVER, 16#7FFFFFFFFFFFFFFF).
-define(MIN_DEADLINE, -16#8000000000000000).
%% Operations per cleanup call (each call also stops after ~10 000 elements of work).
-define(CLEANUP_BATCH, 200).
%% Operations per take_expired/drop_expired call: each costs a pop and a few frees.
-define(REFS_BATCH, 1000).

%% @equiv new(#{})
-spec new() -> tracker().
new() ->
    new(#{}).

%% @doc A new, empty tracker owned (and monitored) by the calling process, which keeps it
%% alive (see "Lifetime" above). Options:
%% `max_ops' (default 16 777 216) caps the pending operations, `max_nodes_per_op' (default
%% 65 536) the entries of one `Expected' list; past a cap, `track/4' returns
%% `{error, limit}'.
-spec new(#{max_ops => pos_integer(), max_nodes_per_op => pos_integer()}) -> tracker().
new(Opts) when is_map(Opts) ->
    phn_nif:tracker_new(pos_opt(max_ops, Opts, ?DEFAULT_MAX_OPS),
                        pos_opt(max_nodes_per_op, Opts, ?DEFAULT_MAX_NODES));
new(_) ->
    error(badarg).

%% @doc Track an operation. `Expected' lists its nodes, each as `Node' (one chunk) or
%% `{Node, Chunks}'; a node listed twice owes the sum; `[]' is allowed (nothing to wait
%% for). `Opts': `timeout_ms' (from now; a non-negative integer or `infinity') or
%% `deadline_ms' (absolute, in `erlang:monotonic_time(millisecond)'; wins over
%% `timeout_ms'); one of them is required. `meta': any term, kept with the operation and
%% returned with it.
-spec track(tracker(), ref(), expected(), map()) ->
          ok | {error, already_tracked | limit | closed}.
track(Tracker, Ref, Expected, Opts) when is_map(Opts) ->
    phn_nif:tracker_track(Tracker, Ref, Expected, deadline(Opts), meta_opt(Opts, none));
track(_, _, _, _) ->
    error(badarg).

%% @doc Record one response chunk of `Node' for the operation `Ref'.
%% <ul>
%% <li>`{pending, Missing}': counted; `Missing' is the number of nodes still owing at
%%   least one chunk (a count, so that recording stays O(1); `get/2' names them).</li>
%% <li>`{complete, Collected}': this chunk completed the operation, which is removed;
%%   `Collected' is `[{Node, Results}]' in the order of `Expected', each node's chunks
%%   concatenated in arrival order (a node that answered one chunk gets it as sent; a
%%   non-list chunk joins a concatenation as one element).</li>
%% <li>`{ignored, unknown_operation | unexpected_node | extra_chunk}': nothing changed;
%%   counted in `stats/1'.</li>
%% </ul>
-spec record(tracker(), ref(), term(), term()) ->
          {pending, non_neg_integer()} | {complete, collected()} |
          {ignored, unknown_operation | unexpected_node | extra_chunk}.
record(Tracker, Ref, Node, Results) ->
    phn_nif:tracker_record(Tracker, Ref, Node, Results, false).

%% @doc `record/4' with options: `#{return_meta => true}' makes completion return
%% `{complete, Collected, Meta}' (the operation's meta, which leaves the table with it).
-spec record(tracker(), ref(), term(), term(), #{return_meta => boolean()}) ->
          {pending, non_neg_integer()} | {complete, collected()} |
          {complete, collected(), term()} |
          {ignored, unknown_operation | unexpected_node | extra_chunk}.
record(Tracker, Ref, Node, Results, Opts) when is_map(Opts) ->
    WithMeta = case maps:get(return_meta, Opts, false) of
                   B when is_boolean(B) -> B;
                   _ -> error(badarg)
               end,
    phn_nif:tracker_record(Tracker, Ref, Node, Results, WithMeta);
record(_, _, _, _, _) ->
    error(badarg).

%% @doc Record one response chunk of `Node' for the operation `Ref' as `record/4' does, but
%% keep no term at all: for a caller that keeps the results itself. The chunk counts
%% toward completion and adds nothing to what `get/2' collects; on completion the
%% operation is removed and only `complete' is returned. O(1), and nothing is allocated.
-spec count(tracker(), ref(), term()) ->
          {pending, non_neg_integer()} | complete |
          {ignored, unknown_operation | unexpected_node | extra_chunk}.
count(Tracker, Ref, Node) ->
    phn_nif:tracker_count(Tracker, Ref, Node).

%% @doc The operation as it stands, left in place: `{ok, Info}' with `ref', `meta'
%% (`undefined' when none was given), `collected' (nodes that gave at least one chunk),
%% `missing' (nodes still owing at least one chunk) and `deadline'.
-spec get(tracker(), ref()) -> {ok, info()} | {error, not_found}.
get(Tracker, Ref) ->
    phn_nif:tracker_get(Tracker, Ref).

%% @doc The operation's meta and the number of nodes still owing, without copying results.
-spec peek(tracker(), ref()) -> {ok, term(), non_neg_integer()} | {error, not_found}.
peek(Tracker, Ref) ->
    phn_nif:tracker_peek(Tracker, Ref).

%% @doc Remove the operation and return it with what it collected (see `get/2').
-spec take(tracker(), ref()) -> {ok, info()} | {error, not_found}.
take(Tracker, Ref) ->
    phn_nif:tracker_take(Tracker, Ref).

%% @doc Remove the operation, discarding what it collected.
-spec cancel(tracker(), ref()) -> ok | {error, not_found}.
cancel(Tracker, Ref) ->
    phn_nif:tracker_cancel(Tracker, Ref).

%% @doc Replace the meta (`meta') and/or move the deadline (`timeout_ms' or `deadline_ms',
%% as in `track/4') of a tracked operation; what it collected is kept. Replacing the meta
%% does not grow the operation's memory.
-spec update(tracker(), ref(), map()) -> ok | {error, not_found}.
update(Tracker, Ref, Opts) when is_map(Opts) ->
    Deadline = case has_deadline(Opts) of
                   true -> deadline(Opts);
                   false -> keep
               end,
    phn_nif:tracker_update(Tracker, Ref, meta_opt(Opts, keep), Deadline);
update(_, _, _) ->
    error(badarg).

%% @equiv update(Tracker, Ref, #{meta => Meta})
-spec update_meta(tracker(), ref(), term()) -> ok | {error, not_found}.
update_meta(Tracker, Ref, Meta) ->
    phn_nif:tracker_update(Tracker, Ref, {meta, Meta}, keep).

%% @equiv cleanup_expired(Tracker, erlang:monotonic_time(millisecond))
-spec cleanup_expired(tracker()) -> [info()].
cleanup_expired(Tracker) ->
    cleanup_expired(Tracker, erlang:monotonic_time(millisecond)).

%% @doc Remove every operation whose deadline is below `NowMs' (strictly: at the deadline
%% it is not expired yet) and return them, earliest deadline first, each as `get/2'
%% describes. Works in batches, so that no call holds a scheduler for long.
-spec cleanup_expired(tracker(), integer()) -> [info()].
cleanup_expired(Tracker, NowMs) when is_integer(NowMs) ->
    {Infos, done} = cleanup_loop(Tracker, clamp(NowMs), infinity, []),
    Infos;
cleanup_expired(_, _) ->
    error(badarg).

%% @doc `cleanup_expired/2' in bounded steps: removes and returns at most `Limit' expired
%% operations, earliest deadline first, and says whether expired ones remain (`more') or
%% not (`done'). A coordinator can spread a big cleanup over several messages this way.
-spec cleanup_expired(tracker(), integer(), pos_integer()) -> {[info()], done | more}.
cleanup_expired(Tracker, NowMs, Limit) when is_integer(NowMs), is_integer(Limit), Limit > 0 ->
    cleanup_loop(Tracker, clamp(NowMs), Limit, []);
cleanup_expired(_, _, _) ->
    error(badarg).

cleanup_loop(Tracker, Now, Limit, Acc) ->
    case phn_nif:tracker_cleanup(Tracker, Now, batch(Limit), true) of
        {done, Infos} ->
            {lists:append(lists:reverse(Acc, [Infos])), done};
        {more, Infos} when Limit =:= infinity ->
            cleanup_loop(Tracker, Now, Limit, [Infos | Acc]);
        {more, Infos} ->
            case Limit - length(Infos) of
                0 -> {lists:append(lists:reverse(Acc, [Infos])), more};
                Left -> cleanup_loop(Tracker, Now, Left, [Infos | Acc])
            end
    end.

%% @equiv drop_expired(Tracker, erlang:monotonic_time(millisecond))
-spec drop_expired(tracker()) -> non_neg_integer().
drop_expired(Tracker) ->
    drop_expired(Tracker, erlang:monotonic_time(millisecond)).

%% @doc Remove every expired operation, as `cleanup_expired/2', without returning them
%% (nothing is copied out): their number. What the drop-in's tracker mode uses, as
%% ProcessHub's cleanup discards what it drops.
-spec drop_expired(tracker(), integer()) -> non_neg_integer().
drop_expired(Tracker, NowMs) when is_integer(NowMs) ->
    drop_loop(Tracker, clamp(NowMs), 0);
drop_expired(_, _) ->
    error(badarg).

drop_loop(Tracker, Now, N) ->
    case phn_nif:tracker_cleanup(Tracker, Now, ?REFS_BATCH, false) of
        {done, K} -> N + K;
        {more, K} -> drop_loop(Tracker, Now, N + K)
    end.

%% @doc Remove every expired operation, as `cleanup_expired/2', and return only their
%% references, earliest deadline first: no meta, results or node lists are copied out.
-spec take_expired(tracker(), integer()) -> [ref()].
take_expired(Tracker, NowMs) when is_integer(NowMs) ->
    take_loop(Tracker, clamp(NowMs), []);
take_expired(_, _) ->
    error(badarg).

take_loop(Tracker, Now, Acc) ->
    case phn_nif:tracker_cleanup(Tracker, Now, ?REFS_BATCH, ref) of
        {done, Refs} -> lists:append(lists:reverse(Acc, [Refs]));
        {more, Refs} -> take_loop(Tracker, Now, [Refs | Acc])
    end.

batch(infinity) -> ?CLEANUP_BATCH;
batch(Limit) -> min(Limit, ?CLEANUP_BATCH).

%% @doc The number of pending operations (0 once closed).
-spec size(tracker()) -> non_neg_integer().
size(Tracker) ->
    phn_nif:tracker_size(Tracker).

%% @doc Counters of this tracker: `ops' (pending operations), `bytes' (all native memory
%% of the table and its operations: their structures, their keys' sizes and the terms they
%% keep, as compact images, with the allocator's per-block overhead), `kept_terms'
%% (operations keeping a term: a meta or a recorded response), `ignored' (responses
%% ignored, by reason), the caps, `owner', `closed', and `debug' (`probes' of hash
%% lookups, `heap_moves' of the expiry heap, `records' (chunks recorded or counted),
%% `completes', `key_units' (sizes of the keys held by the key environments, dead ones
%% until compacted): counts that let tests check the costs).
-spec stats(tracker()) -> map().
stats(Tracker) ->
    phn_nif:tracker_stats(Tracker).

%% @doc Counters of every tracker of this VM: `trackers', `ops', `bytes', `kept_terms', and
%% `reaping_ops' (operations still being freed in the background: those of closed
%% trackers, and single ones costly to free).
-spec stats() -> map().
stats() ->
    phn_nif:tracker_global_stats().

%% @doc Free every operation now and close the tracker, as the owner's exit would.
-spec close(tracker()) -> ok.
close(Tracker) ->
    phn_nif:tracker_close(Tracker).

%%% Internal

pos_opt(Key, Opts, Default) ->
    case maps:get(Key, Opts, Default) of
        V when is_integer(V), V > 0, V =< 16#3FFFFFFFFFFFFFFF -> V;
        _ -> error(badarg)
    end.

has_deadline(Opts) ->
    is_map_key(deadline_ms, Opts) orelse is_map_key(timeout_ms, Opts).

deadline(#{deadline_ms := infinity}) -> ?NEVER;
deadline(#{deadline_ms := D}) when is_integer(D) -> clamp(D);
deadline(#{deadline_ms := _}) -> error(badarg);
deadline(#{timeout_ms := infinity}) -> ?NEVER;
deadline(#{timeout_ms := T}) when is_integer(T), T >= 0 ->
    clamp(erlang:monotonic_time(millisecond) + T);
deadline(_) -> error(badarg).

%% Finite deadlines stay below ?NEVER, which reads back as infinity.
clamp(D) when D >= ?NEVER -> ?NEVER - 1;
clamp(D) when D < ?MIN_DEADLINE -> ?MIN_DEADLINE;
clamp(D) -> D.

meta_opt(#{meta := Meta}, _Absent) -> {meta, Meta};
meta_opt(_, Absent) -> Absent.
