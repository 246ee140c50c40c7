%% @doc Tracker mode of the drop-in `phn_request_manager': its state functions when the
%% coordinator state's `pending_operations' is a `phn_tracker' instead of a map.
%%
%% The operation (the `%RequestManager{}' map) is the tracker operation's meta, packed (see
%% `pack/1': children that a sub-request shares with `nodes_data' are kept once); what the
%% nodes answered lives in the tracker. An operation expects one response per split chunk
%% of each sub-request (`phn_request_manager:split/1', so a node sent 2500 children owes
%% 3), from the nodes of `nodes_data' that are not yet in `completed_nodes'. Reads give the
%% operation back with the recorded results merged in, exactly where map mode would have
%% put them, so the handlers' `aggregate_results/1' and `post_process/3' work unchanged.
%%
%% Two outcomes differ from map mode, on purpose (the fixes of DESIGN.md):
%% <ul>
%% <li>A node that answers in several chunks completes only when all have arrived, and its
%%   sub-request carries all the chunks' results (map mode completes on the first chunk and
%%   loses the others).</li>
%% <li>A response from a node outside the operation is ignored (and counted in
%%   `phn_tracker:stats/1'), so the operation still completes when its nodes have answered
%%   (map mode can then never complete by responses).</li>
%% </ul>
%% The tracker is mutable: every function returns the state it was given.
-module(phn_rm_tracker).

-export([store/2,
         update/2,
         get/2,
         remove/2,
         cleanup_expired/2,
         handle_response/4,
         handle_await/3,
         handle_timeout/3,
         expected/1,
         view/1,
         pack/1,
         unpack/1]).

-define(RM, 'Elixir.ProcessHub.Service.RequestManager').
-define(MAPSET, 'Elixir.MapSet').
-define(DEFAULT_FUTURE_TIMEOUT, 5000).
%% pack/1: a packed operation, and the children a sub-request shares with nodes_data.
-define(PACKED, '$phn_packed').
-define(SHARED, '$phn_shared').

%%====================================================================
%% State management
%%====================================================================

%% @doc Track the operation (or, already tracked, replace its meta and deadline, keeping
%% what was recorded: `store' and `update' are the same, as in map mode). Past the
%% tracker's caps this raises `{phn_tracker, limit}'; on a closed tracker
%% `{phn_tracker, closed}'.
-spec store(map(), map()) -> map().
store(#{pending_operations := Tracker} = State, Op) ->
    Ref = maps:get(transaction_id, Op),
    Deadline = deadline(maps:get(expires_at, Op)),
    Meta = pack(Op),
    case phn_tracker:track(Tracker, Ref, expected(Op), #{deadline_ms => Deadline, meta => Meta}) of
        ok ->
            State;
        {error, already_tracked} ->
            ok = phn_tracker:update(Tracker, Ref, #{deadline_ms => Deadline, meta => Meta}),
            State;
        {error, Reason} ->
            error({phn_tracker, Reason})
    end.

-spec update(map(), map()) -> map().
update(State, Op) ->
    store(State, Op).

%% @doc The operation with what its nodes answered merged in (see `view/1'), or `nil'.
-spec get(map(), term()) -> map() | nil.
get(#{pending_operations := Tracker}, Ref) ->
    case phn_tracker:get(Tracker, Ref) of
        {ok, Info} -> view(Info);
        {error, not_found} -> nil
    end.

-spec remove(map(), term()) -> map().
remove(#{pending_operations := Tracker} = State, Ref) ->
    _ = phn_tracker:cancel(Tracker, Ref),
    State.

%% @doc Drops the expired operations (no replies, no finalize, as in map mode).
-spec cleanup_expired(map(), integer()) -> map().
cleanup_expired(#{pending_operations := Tracker} = State, NowMs) ->
    _ = phn_tracker:drop_expired(Tracker, NowMs),
    State.

%%====================================================================
%% GenServer handlers
%%====================================================================

%% @doc Records the response; on completion finalizes with every chunk's results, replies
%% to the awaiter if any, and the operation is gone. Unknown operations, unexpected nodes
%% and extra chunks are ignored.
-spec handle_response(map(), term(), term(), term()) -> {noreply, map()}.
handle_response(#{pending_operations := Tracker} = State, Ref, Node, Results) ->
    case phn_tracker:record(Tracker, Ref, Node, Results, #{return_meta => true}) of
        {complete, Collected, Meta} ->
            Op1 = merge(unpack(Meta), Collected, []),
            Result = phn_rm_common:finalize(Op1, State),
            Awaiter = maps:get(awaiter, Op1),
            case phn_rm_common:truthy(Awaiter) of
                true -> gen_server:reply(Awaiter, Result);
                false -> ok
            end,
            {noreply, State};
        _PendingOrIgnored ->
            {noreply, State}
    end.

%% @doc As map mode: answered now (finalized, removed) when every node has answered or the
%% operation's `timeout' option is 0; otherwise the awaiter is stored and an
%% `{await_timeout, Ref, From}' timer started.
-spec handle_await(map(), term(), {pid(), term()}) ->
          {reply, term(), map()} | {noreply, map()}.
handle_await(#{pending_operations := Tracker} = State, Ref, From) ->
    case phn_tracker:peek(Tracker, Ref) of
        {error, not_found} ->
            {reply, {error, pending_request_not_found}, State};
        {ok, Meta, Missing} ->
            Timeout = phn_rm_common:kw_get(timeout, maps:get(options, packed_op(Meta)),
                                           ?DEFAULT_FUTURE_TIMEOUT),
            case Missing =:= 0 orelse Timeout == 0 of
                true ->
                    case phn_tracker:take(Tracker, Ref) of
                        {ok, Info} ->
                            {reply, phn_rm_common:finalize(view(Info), State), State};
                        {error, not_found} -> % taken meanwhile by another process
                            {reply, {error, pending_request_not_found}, State}
                    end;
                false ->
                    Meta1 = with_packed(Meta, fun(Op) -> phn_rm_common:set_awaiter(Op, From) end),
                    _ = phn_tracker:update_meta(Tracker, Ref, Meta1),
                    _ = erlang:send_after(Timeout, self(), {await_timeout, Ref, From}),
                    {noreply, State}
            end
    end.

%% @doc As map mode: if `From' is the operation's awaiter, reply with the finalized
%% (partial) result and remove the operation; otherwise nothing.
-spec handle_timeout(map(), term(), {pid(), term()}) -> {noreply, map()}.
handle_timeout(#{pending_operations := Tracker} = State, Ref, From) ->
    case phn_tracker:peek(Tracker, Ref) of
        {ok, Meta, _Missing} ->
            case maps:get(awaiter, packed_op(Meta)) == From of
                true ->
                    case phn_tracker:take(Tracker, Ref) of
                        {ok, Info} -> gen_server:reply(From, phn_rm_common:finalize(view(Info), State));
                        {error, not_found} -> ok
                    end;
                false ->
                    ok
            end;
        {error, not_found} ->
            ok
    end,
    {noreply, State}.

%%====================================================================
%% The operation <-> tracker mapping
%%====================================================================

%% @doc What an operation waits for: the distinct nodes of `nodes_data' (in order) not in
%% `completed_nodes', each owing the number of split chunks of its sub-requests (at least
%% one, as a node without a sub-request still answers once in map mode).
-spec expected(map()) -> [{node(), pos_integer()}].
expected(#{nodes_data := NodesData, sub_requests := Subs, completed_nodes := Completed})
  when is_list(NodesData), is_list(Subs) ->
    Done = mapset_map(Completed),
    Chunks = lists:foldl(fun(Sub, Acc) ->
                                 Node = maps:get(node, Sub),
                                 N = length(phn_request_manager:split(Sub)),
                                 maps:update_with(Node, fun(C) -> C + N end, N, Acc)
                         end, #{}, Subs),
    {Expected, _} =
        lists:foldl(fun({Node, _Children}, {Acc, Seen}) ->
                            case is_map_key(Node, Seen) orelse is_map_key(Node, Done) of
                                true -> {Acc, Seen};
                                false -> {[{Node, max(1, maps:get(Node, Chunks, 0))} | Acc],
                                          Seen#{Node => true}}
                            end
                    end, {[], #{}}, NodesData),
    lists:reverse(Expected).

%% @doc The operation of a tracker info (`phn_tracker:get/2', `take/2') with the recorded
%% results merged in: the first sub-request of each node that answered gets the node's
%% results (all its chunks, in arrival order; further sub-requests of the same node get
%% `[]', so that nothing is counted twice), `status => completed' once the node gave all
%% its chunks, and those nodes join `completed_nodes'. With nothing recorded the operation
%% is returned as stored.
-spec view(phn_tracker:info()) -> map().
view(#{meta := Meta, collected := Collected, missing := Missing}) ->
    merge(unpack(Meta), Collected, Missing).

%% @doc The operation as kept in the tracker. ProcessHub composes each sub-request with
%% the very children of its node's `nodes_data' entry; a copy out of the process heap (the
%% tracker keeps terms in external format) would keep them twice, so a sub-request whose
%% `children' is exactly (`=:=') its node's first `nodes_data' children keeps a marker
%% instead, and `unpack/1' puts the term back (shared again on the heap). An operation
%% with nothing to share, or that already holds the marker, is kept as it is.
-spec pack(map()) -> map() | {'$phn_packed', map()}.
pack(#{nodes_data := NodesData, sub_requests := Subs} = Op)
  when is_list(NodesData), is_list(Subs) ->
    First = first_children(NodesData),
    Share = fun(#{node := N, children := C} = Sub, Any) when is_map_key(N, First), C =/= [] ->
                    case map_get(N, First) =:= C of
                        true -> {Sub#{children := ?SHARED}, true};
                        false -> {Sub, Any}
                    end;
               (Sub, Any) ->
                    {Sub, Any}
            end,
    case lists:any(fun(#{children := ?SHARED}) -> true; (_) -> false end, Subs) of
        true ->
            Op; % holds the marker itself: kept as it is
        false ->
            case lists:mapfoldl(Share, false, Subs) of
                {Subs1, true} -> {?PACKED, Op#{sub_requests := Subs1}};
                {_, false} -> Op
            end
    end;
pack(Op) ->
    Op.

%% @doc The operation of a `pack/1'ed one.
-spec unpack(map() | {'$phn_packed', map()}) -> map().
unpack({?PACKED, #{nodes_data := NodesData, sub_requests := Subs} = Op}) ->
    First = first_children(NodesData),
    Restore = fun(#{node := N, children := ?SHARED} = Sub) -> Sub#{children := map_get(N, First)};
                 (Sub) -> Sub
              end,
    Op#{sub_requests := lists:map(Restore, Subs)};
unpack(Op) ->
    Op.

%% The fields of a packed operation that packing does not touch (options, awaiter).
packed_op({?PACKED, Op}) -> Op;
packed_op(Op) -> Op.

with_packed({?PACKED, Op}, Fun) -> {?PACKED, Fun(Op)};
with_packed(Op, Fun) -> Fun(Op).

%% Each node's children in its first nodes_data entry.
first_children(NodesData) ->
    lists:foldl(fun({N, C}, Acc) when not is_map_key(N, Acc) -> Acc#{N => C};
                   (_, Acc) -> Acc
                end, #{}, NodesData).

merge(Op, [], _Missing) ->
    Op;
merge(#{sub_requests := Subs, completed_nodes := Completed} = Op, Collected, Missing) ->
    Results = maps:from_list(Collected),
    Partial = maps:from_list([{N, true} || N <- Missing]),
    {Subs1, _} =
        lists:mapfoldl(
          fun(#{node := Node} = Sub, Given) ->
                  case Results of
                      #{Node := R} ->
                          Sub1 = case is_map_key(Node, Given) of
                                     true -> Sub#{results => []};
                                     false -> Sub#{results => R}
                                 end,
                          Sub2 = case is_map_key(Node, Partial) of
                                     true -> Sub1;
                                     false -> Sub1#{status => completed}
                                 end,
                          {Sub2, Given#{Node => true}};
                      _ ->
                          {Sub, Given}
                  end
          end, #{}, Subs),
    Done = [N || {N, _} <- Collected, not is_map_key(N, Partial)],
    Op#{sub_requests := Subs1, completed_nodes := mapset_add(Completed, Done)}.

%%====================================================================
%% Helpers
%%====================================================================

%% expires_at as a deadline: integers as they are; nil (or any non-number, above every
%% number in term order) never expires, as `Now > ExpiresAt' is then never true.
deadline(ExpiresAt) when is_integer(ExpiresAt) -> ExpiresAt;
deadline(ExpiresAt) when is_float(ExpiresAt) -> floor(ExpiresAt);
deadline(_) -> infinity.

mapset_map(#{'__struct__' := ?MAPSET, map := Map}) when is_map(Map) -> Map;
mapset_map(Other) -> error({badarg, Other}).

mapset_add(Set, []) ->
    Set;
mapset_add(#{'__struct__' := ?MAPSET, map := Map} = Set, Elems) ->
    Set#{map := lists:foldl(fun(E, Acc) -> Acc#{E => []} end, Map, Elems)}.
