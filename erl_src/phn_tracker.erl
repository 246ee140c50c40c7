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
%% Errors (docs/errors.md): a bad argument raises `badarg' with an `error_info' naming it
%% (`Opts: unknown option timeout (known: deadline_ms, meta, timeout_ms)'). Options are
%% checked in Erlang in O(1); what the NIF refuses itself (a term that is not a tracker, a
%% reference past the cap, a malformed `Expected') costs nothing on the way in: when the
%% NIF raises, the arguments are asked again to name the one at fault.
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

-export_type([tracker/0, info/0, ref/0, expected/0, collected/0, track_opts/0,
              update_opts/0]).

-include("phn_errors.hrl").

-opaque tracker() :: reference().
-type ref() :: term().
-type expected() :: [node() | {node(), pos_integer()}].
-type collected() :: [{node(), term()}].
-type info() :: #{ref := ref(),
                  meta := term(),
                  collected := collected(),
                  missing := [node()],
                  deadline := integer() | infinity}.
%% track/4 needs timeout_ms or deadline_ms.
-type track_opts() :: #{timeout_ms => timeout(), deadline_ms => integer() | infinity,
                        meta => term()}.
-type update_opts() :: track_opts().
-type ignored() :: {ignored, unknown_operation | unexpected_node | extra_chunk}.

-define(DEFAULT_MAX_OPS, 16777216).
-define(DEFAULT_MAX_NODES, 65536).
-define(MAX_CAP, 16#3FFFFFFFFFFFFFFF).
%% Deadlines are signed 64-bit milliseconds; the largest one means "never".
-define(NEVER, 16#7FFFFFFFFFFFFFFF).
-define(MIN_DEADLINE, -16#8000000000000000).
%% Operations per cleanup call (each call also stops after ~10 000 elements of work).
-define(CLEANUP_BATCH, 200).
%% Operations per take_expired/drop_expired call: each costs a pop and a few frees.
-define(REFS_BATCH, 1000).

%% The options each function knows (phn_errors:kind()).
-define(NEW_OPTS, #{max_ops => {integer_range, 1, ?MAX_CAP},
                    max_nodes_per_op => {integer_range, 1, ?MAX_CAP}}).
-define(DEADLINE_OPTS, #{timeout_ms => timeout, deadline_ms => integer_or_infinity,
                         meta => any}).
-define(RECORD_OPTS, #{return_meta => boolean}).
%% What only the NIF can tell (see blame/4).
-define(NOT_TRACKER, "not a tracker (phn_tracker:new/0,1 makes one)").
-define(BAD_REF, "not a reference a tracker accepts (a fun, an integer beyond 64 bits, a "
                 "bitstring that is not whole bytes, or a term past the size cap: see "
                 "\"References\" in phn_tracker's doc)").
-define(NO_DEADLINE, "neither timeout_ms nor deadline_ms given (one is required)").

%% Calls the NIF; when it raises badarg, raises it again from the calling public function
%% (its frame, its arguments) with the argument at fault named. A macro: erlang:error/3
%% records the frame it is called from. Nothing is added on the way in (a try only).
-define(NIF(Call, Args, Suspects),
        try Call
        catch
            error:badarg:St__ -> erlang:error(badarg, Args,
                                              phn_errors:info(blame(Suspects, St__)))
        end).

%% @equiv new(#{})
-spec new() -> tracker().
new() ->
    phn_nif:tracker_new(?DEFAULT_MAX_OPS, ?DEFAULT_MAX_NODES).

%% @doc A new, empty tracker owned (and monitored) by the calling process, which keeps it
%% alive (see "Lifetime" above). Options:
%% `max_ops' (default 16 777 216) caps the pending operations, `max_nodes_per_op' (default
%% 65 536) the entries of one `Expected' list; past a cap, `track/4' returns
%% `{error, limit}'. Each is an integer in 1..2^62 - 1.
-spec new(#{max_ops => pos_integer(), max_nodes_per_op => pos_integer()}) -> tracker().
new(Opts) ->
    ?CHECK_ARGS([{'Opts', {options, ?NEW_OPTS}}], [Opts]),
    phn_nif:tracker_new(maps:get(max_ops, Opts, ?DEFAULT_MAX_OPS),
                        maps:get(max_nodes_per_op, Opts, ?DEFAULT_MAX_NODES)).

%% @doc Track an operation. `Expected' lists its nodes, each as `Node' (one chunk) or
%% `{Node, Chunks}' (`Chunks' in 1..2^32 - 1); a node listed twice owes the sum; `[]' is
%% allowed (nothing to wait for). `Opts': `timeout_ms' (from now; a non-negative integer
%% or `infinity') or `deadline_ms' (absolute, in `erlang:monotonic_time(millisecond)'; an
%% integer or `infinity'; wins over `timeout_ms'); one of them is required. `meta': any
%% term, kept with the operation and returned with it. Any other key is refused.
-spec track(tracker(), ref(), expected(), track_opts()) ->
          ok | {error, already_tracked | limit | closed}.
track(Tracker, Ref, Expected, Opts) ->
    Deadline = case deadline(Opts) of
                   D when is_integer(D) -> D;
                   Bad -> erlang:error(badarg, [Tracker, Ref, Expected, Opts],
                                       phn_errors:info(opts_cause(4, Bad, Opts)))
               end,
    ?NIF(phn_nif:tracker_track(Tracker, Ref, Expected, Deadline, meta_opt(Opts, none)),
         [Tracker, Ref, Expected, Opts],
         [{tracker, Tracker}, {ref, Tracker, Ref}, {expected, Expected}]).

%% @doc Record one response chunk of `Node' for the operation `Ref'.
%% <ul>
%% <li>`{pending, Missing}': counted; `Missing' is the number of nodes still owing at
%%   least one chunk (a count, so that recording stays O(1); `get/2' names them).</li>
%% <li>`{complete, Collected}': this chunk completed the operation, which is removed;
%%   `Collected' is `[{Node, Results}]' in the order of `Expected', each node's chunks
%%   concatenated in arrival order (a node that answered one chunk gets it as sent; a
%%   non-list chunk joins a concatenation as one element).</li>
%% <li>`{ignored, unknown_operation | unexpected_node | extra_chunk}': nothing changed;
%%   counted in `stats/1'. A `Node' that is not an atom is an unexpected node.</li>
%% </ul>
-spec record(tracker(), ref(), term(), term()) ->
          {pending, non_neg_integer()} | {complete, collected()} | ignored().
record(Tracker, Ref, Node, Results) ->
    ?NIF(phn_nif:tracker_record(Tracker, Ref, Node, Results, false),
         [Tracker, Ref, Node, Results], [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @doc `record/4' with options: `#{return_meta => true}' makes completion return
%% `{complete, Collected, Meta}' (the operation's meta, which leaves the table with it).
-spec record(tracker(), ref(), term(), term(), #{return_meta => boolean()}) ->
          {pending, non_neg_integer()} | {complete, collected()} |
          {complete, collected(), term()} | ignored().
record(Tracker, Ref, Node, Results, Opts) ->
    WithMeta = case Opts of
                   #{return_meta := B} when map_size(Opts) =:= 1, is_boolean(B) -> B;
                   _ when Opts =:= #{} -> false;
                   _ -> erlang:error(badarg, [Tracker, Ref, Node, Results, Opts],
                                     phn_errors:info(opts_cause(5, ?RECORD_OPTS, Opts)))
               end,
    ?NIF(phn_nif:tracker_record(Tracker, Ref, Node, Results, WithMeta),
         [Tracker, Ref, Node, Results, Opts], [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @doc Record one response chunk of `Node' for the operation `Ref' as `record/4' does, but
%% keep no term at all: for a caller that keeps the results itself. The chunk counts
%% toward completion and adds nothing to what `get/2' collects; on completion the
%% operation is removed and only `complete' is returned. O(1), and nothing is allocated.
-spec count(tracker(), ref(), term()) -> {pending, non_neg_integer()} | complete | ignored().
count(Tracker, Ref, Node) ->
    ?NIF(phn_nif:tracker_count(Tracker, Ref, Node), [Tracker, Ref, Node],
         [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @doc The operation as it stands, left in place: `{ok, Info}' with `ref', `meta'
%% (`undefined' when none was given), `collected' (nodes that gave at least one chunk),
%% `missing' (nodes still owing at least one chunk) and `deadline'.
-spec get(tracker(), ref()) -> {ok, info()} | {error, not_found}.
get(Tracker, Ref) ->
    ?NIF(phn_nif:tracker_get(Tracker, Ref), [Tracker, Ref],
         [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @doc The operation's meta and the number of nodes still owing, without copying results.
-spec peek(tracker(), ref()) -> {ok, term(), non_neg_integer()} | {error, not_found}.
peek(Tracker, Ref) ->
    ?NIF(phn_nif:tracker_peek(Tracker, Ref), [Tracker, Ref],
         [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @doc Remove the operation and return it with what it collected (see `get/2').
-spec take(tracker(), ref()) -> {ok, info()} | {error, not_found}.
take(Tracker, Ref) ->
    ?NIF(phn_nif:tracker_take(Tracker, Ref), [Tracker, Ref],
         [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @doc Remove the operation, discarding what it collected.
-spec cancel(tracker(), ref()) -> ok | {error, not_found}.
cancel(Tracker, Ref) ->
    ?NIF(phn_nif:tracker_cancel(Tracker, Ref), [Tracker, Ref],
         [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @doc Replace the meta (`meta') and/or move the deadline (`timeout_ms' or `deadline_ms',
%% as in `track/4') of a tracked operation; what it collected is kept. Replacing the meta
%% does not grow the operation's memory. Any other key is refused.
-spec update(tracker(), ref(), update_opts()) -> ok | {error, not_found}.
update(Tracker, Ref, Opts) ->
    Deadline = case deadline(Opts) of
                   D when is_integer(D) -> D;
                   absent -> keep;
                   bad -> erlang:error(badarg, [Tracker, Ref, Opts],
                                       phn_errors:info(opts_cause(3, bad, Opts)))
               end,
    ?NIF(phn_nif:tracker_update(Tracker, Ref, meta_opt(Opts, keep), Deadline),
         [Tracker, Ref, Opts], [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @equiv update(Tracker, Ref, #{meta => Meta})
-spec update_meta(tracker(), ref(), term()) -> ok | {error, not_found}.
update_meta(Tracker, Ref, Meta) ->
    ?NIF(phn_nif:tracker_update(Tracker, Ref, {meta, Meta}, keep), [Tracker, Ref, Meta],
         [{tracker, Tracker}, {ref, Tracker, Ref}]).

%% @equiv cleanup_expired(Tracker, erlang:monotonic_time(millisecond))
-spec cleanup_expired(tracker()) -> [info()].
cleanup_expired(Tracker) ->
    Now = erlang:monotonic_time(millisecond),
    ?NIF(element(1, cleanup_loop(Tracker, Now, infinity, [])), [Tracker], [{tracker, Tracker}]).

%% @doc Remove every operation whose deadline is below `NowMs' (strictly: at the deadline
%% it is not expired yet) and return them, earliest deadline first, each as `get/2'
%% describes. Works in batches, so that no call holds a scheduler for long.
-spec cleanup_expired(tracker(), integer()) -> [info()].
cleanup_expired(Tracker, NowMs) ->
    ?CHECK_ARGS([{'Tracker', any}, {'NowMs', integer}], [Tracker, NowMs]),
    ?NIF(element(1, cleanup_loop(Tracker, clamp(NowMs), infinity, [])), [Tracker, NowMs],
         [{tracker, Tracker}]).

%% @doc `cleanup_expired/2' in bounded steps: removes and returns at most `Limit' expired
%% operations, earliest deadline first, and says whether expired ones remain (`more') or
%% not (`done'). A coordinator can spread a big cleanup over several messages this way.
-spec cleanup_expired(tracker(), integer(), pos_integer()) -> {[info()], done | more}.
cleanup_expired(Tracker, NowMs, Limit) ->
    ?CHECK_ARGS([{'Tracker', any}, {'NowMs', integer}, {'Limit', pos_integer}],
                [Tracker, NowMs, Limit]),
    ?NIF(cleanup_loop(Tracker, clamp(NowMs), Limit, []), [Tracker, NowMs, Limit],
         [{tracker, Tracker}]).

-spec cleanup_loop(tracker(), integer(), pos_integer() | infinity, [[info()]]) ->
          {[info()], done | more}.
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
    Now = erlang:monotonic_time(millisecond),
    ?NIF(drop_loop(Tracker, Now, 0), [Tracker], [{tracker, Tracker}]).

%% @doc Remove every expired operation, as `cleanup_expired/2', without returning them
%% (nothing is copied out): their number. What the drop-in's tracker mode uses, as
%% ProcessHub's cleanup discards what it drops.
-spec drop_expired(tracker(), integer()) -> non_neg_integer().
drop_expired(Tracker, NowMs) ->
    ?CHECK_ARGS([{'Tracker', any}, {'NowMs', integer}], [Tracker, NowMs]),
    ?NIF(drop_loop(Tracker, clamp(NowMs), 0), [Tracker, NowMs], [{tracker, Tracker}]).

drop_loop(Tracker, Now, N) ->
    case phn_nif:tracker_cleanup(Tracker, Now, ?REFS_BATCH, false) of
        {done, K} when is_integer(K) -> N + K;
        {more, K} when is_integer(K) -> drop_loop(Tracker, Now, N + K)
    end.

%% @doc Remove every expired operation, as `cleanup_expired/2', and return only their
%% references, earliest deadline first: no meta, results or node lists are copied out.
-spec take_expired(tracker(), integer()) -> [ref()].
take_expired(Tracker, NowMs) ->
    ?CHECK_ARGS([{'Tracker', any}, {'NowMs', integer}], [Tracker, NowMs]),
    ?NIF(take_loop(Tracker, clamp(NowMs), []), [Tracker, NowMs], [{tracker, Tracker}]).

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
    ?NIF(phn_nif:tracker_size(Tracker), [Tracker], [{tracker, Tracker}]).

%% @doc Counters of this tracker: `ops' (pending operations), `bytes' (all native memory
%% of the table and its operations: their structures, their keys' sizes and the terms they
%% keep, as compact images, with the allocator's per-block overhead), `kept_terms'
%% (operations keeping a term: a meta or a recorded response), `ignored' (responses
%% ignored, by reason), the caps, `owner', `closed', and `debug' (`probes' of hash
%% lookups, `heap_moves' of the expiry heap, `records' (chunks recorded or counted),
%% `completes', `key_units' (sizes of the keys held by the key environments, dead ones
%% until compacted): counts that let tests check the costs).
-spec stats(tracker()) -> #{atom() => term()}.
stats(Tracker) ->
    ?NIF(phn_nif:tracker_stats(Tracker), [Tracker], [{tracker, Tracker}]).

%% @doc Counters of every tracker of this VM: `trackers', `ops', `bytes', `kept_terms', and
%% `reaping_ops' (operations still being freed in the background: those of closed
%% trackers, and single ones costly to free).
-spec stats() -> #{atom() => non_neg_integer()}.
stats() ->
    phn_nif:tracker_global_stats().

%% @doc Free every operation now and close the tracker, as the owner's exit would.
-spec close(tracker()) -> ok.
close(Tracker) ->
    ?NIF(phn_nif:tracker_close(Tracker), [Tracker], [{tracker, Tracker}]).

%%% Internal

%% The deadline Opts give (an integer), `absent' (neither timeout_ms nor deadline_ms), or
%% `bad' (an unknown key or a value of the wrong kind). O(1): Opts may hold only the three
%% known keys.
deadline(Opts) when is_map(Opts) ->
    case map_size(Opts) =:= has(meta, Opts) + has(timeout_ms, Opts) + has(deadline_ms, Opts) of
        true -> deadline(maps:get(deadline_ms, Opts, absent), maps:get(timeout_ms, Opts, absent));
        false -> bad
    end;
deadline(_) ->
    bad.

%% The timeout is checked even when deadline_ms wins over it.
deadline(_, T) when not (T =:= absent orelse T =:= infinity orelse
                         (is_integer(T) andalso T >= 0)) -> bad;
deadline(infinity, _) -> ?NEVER;
deadline(D, _) when is_integer(D) -> clamp(D);
deadline(absent, infinity) -> ?NEVER;
deadline(absent, T) when is_integer(T) -> clamp(erlang:monotonic_time(millisecond) + T);
deadline(absent, absent) -> absent;
deadline(_, _) -> bad.

has(Key, Map) ->
    case is_map_key(Key, Map) of
        true -> 1;
        false -> 0
    end.

%% Finite deadlines stay below ?NEVER, which reads back as infinity.
clamp(D) when D >= ?NEVER -> ?NEVER - 1;
clamp(D) when D < ?MIN_DEADLINE -> ?MIN_DEADLINE;
clamp(D) -> D.

meta_opt(#{meta := Meta}, _Absent) -> {meta, Meta};
meta_opt(_, Absent) -> Absent.

%% The cause naming the options map at argument Pos. Kinds: the options it knows, or
%% bad/absent for the deadline options (absent: track/4's required deadline is missing).
opts_cause(Pos, absent, _Opts) ->
    #{Pos => {'Opts', ?NO_DEADLINE}};
opts_cause(Pos, bad, Opts) ->
    opts_cause(Pos, ?DEADLINE_OPTS, Opts);
opts_cause(Pos, Kinds, Opts) ->
    #{1 := Problem} = phn_errors:check([{'Opts', {options, Kinds}}], [Opts]),
    #{Pos => Problem}.

%% The NIF raised badarg: the first of the suspects (in argument order) at fault, each
%% asked of the NIF again (O(1) calls, only on this path). None at fault (cannot happen):
%% the NIF's own exception goes on.
blame([], Stack) ->
    erlang:raise(error, badarg, Stack);
blame([Suspect | Rest], Stack) ->
    case fault(Suspect) of
        ok -> blame(Rest, Stack);
        Cause -> Cause
    end.

fault({tracker, Tracker}) ->
    case refused(fun() -> phn_nif:tracker_size(Tracker) end) of
        true -> #{1 => {'Tracker', ?NOT_TRACKER}};
        false -> ok
    end;
fault({ref, Tracker, Ref}) ->
    %% peek copies the meta only (the key is checked before anything is looked up).
    case refused(fun() -> phn_nif:tracker_peek(Tracker, Ref) end) of
        true -> #{2 => {'Ref', ?BAD_REF}};
        false -> ok
    end;
fault({expected, Expected}) ->
    case phn_errors:check([{'Expected', tracker_expected}], [Expected]) of
        #{1 := Problem} -> #{3 => Problem};
        ok -> ok
    end.

refused(Fun) ->
    try Fun() of
        _ -> false
    catch
        error:badarg -> true
    end.
