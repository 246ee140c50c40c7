%% @doc C-node mode of the drop-in `phn_request_manager', behind ProcessHub's own
%% coordinator (`phn_request_manager:set_default_mode(cnode)', `phn_cnode' running).
%%
%% `compose_sub_requests/1' (the coordinator calls it before it dispatches) composes the
%% sub-requests towards the C-node, so the target nodes cast their `operation_response's
%% to `{HubId, CNode}', and registers the operation with `phn_cnode' for the calling
%% process: each node with the chunks it owes (`phn_rm_tracker:expected/1'), collected
%% until the operation's `expires_at'. `phn_cnode' then casts the outcome, once, as
%% `{operation_response, TxRef, '$phn_cnode', Body}', which the coordinator hands, as any
%% operation_response, to `handle_response/4'; `handle_report/3' takes it there.
%%
%% When `phn_cnode' is not running, or refuses or fails the registration, the operation is
%% composed as in map mode (responses to this node) and runs in map mode; the first such
%% fallback of a process is logged.
-module(phn_rm_cnode).

-export([compose_sub_requests/1, handle_report/3]).

-include("phn_errors.hrl").

%% The C-node's window for an operation that never expires (`expires_at' not a number):
%% the C-node saturates any deadline, so this means "never".
-define(NEVER_MS, (1 bsl 62)).
-define(FALLBACK_LOGGED, {?MODULE, fallback_logged}).
-define(RM, 'Elixir.ProcessHub.Service.RequestManager').

%% ProcessHub's operation struct, as phn_rm_common composes it.
-type operation() :: #{'__struct__' := ?RM, nodes_data := [term()], term() => term()}.
-type composed() :: #{'__struct__' := ?RM, handler := term(), hub_id := term(),
                      nodes_data := [term(), ...], sub_requests := [term()],
                      transaction_id := term(), term() => term()}.

%% @doc `phn_rm_common:compose_sub_requests/1' routed to the C-node and registered there;
%% on any refusal, exactly as map mode composes. An `Op' that is not a map raises `badarg'
%% naming it (the keys it needs are those of map mode).
-spec compose_sub_requests(operation()) -> {ok, composed()} | {error, no_children}.
compose_sub_requests(Op) ->
    ?CHECK_ARGS([{'Op', map}], [Op]),
    case phn_rm_common:compose_sub_requests(Op) of
        {ok, Op1} -> {ok, route(Op1)};
        Error -> Error
    end.

route(#{transaction_id := Ref, hub_id := HubId} = Op) ->
    case whereis(phn_cnode) of
        undefined ->
            fallback(Op, not_running);
        _ ->
            try register_op(Op, Ref, HubId) of
                {ok, Routed} -> Routed;
                {error, Reason} -> fallback(Op, Reason)
            catch
                %% phn_cnode stopped or hung meanwhile, or an operation it cannot take.
                Class:Reason -> fallback(Op, {Class, Reason})
            end
    end.

register_op(#{sub_requests := Subs} = Op, Ref, HubId) ->
    CNode = phn_cnode:cnode(),
    Routed = Op#{sub_requests := [S#{originating_node => CNode} || S <- Subs]},
    Expected = phn_rm_tracker:expected(Routed),
    case phn_cnode:register_operation(Ref, HubId, Expected, window(Op), self(),
                                      #{deliver => cast}) of
        ok -> {ok, Routed};
        {error, _} = Refused -> Refused
    end.

%% Clamped to ?NEVER_MS: an expires_at beyond it means never, as nil does.
window(#{expires_at := ExpiresAt}) when is_integer(ExpiresAt) ->
    min(max(ExpiresAt - erlang:monotonic_time(millisecond), 0), ?NEVER_MS);
window(#{expires_at := ExpiresAt}) when is_float(ExpiresAt) ->
    min(max(floor(ExpiresAt) - erlang:monotonic_time(millisecond), 0), ?NEVER_MS);
window(_) ->
    ?NEVER_MS.

%% Nothing is lost: composed towards this node, the operation runs in map mode.
fallback(Op, Reason) ->
    case get(?FALLBACK_LOGGED) of
        undefined ->
            put(?FALLBACK_LOGGED, true),
            logger:warning("phn_request_manager (C-node mode): phn_cnode did not take an "
                           "operation (~0p); it runs in map mode. Further fallbacks of this "
                           "process are not logged.", [Reason]);
        _ ->
            ok
    end,
    Op.

%% @doc `handle_response(State, Ref, '$phn_cnode', Body)', the state's operations in a map
%% or a tracker (read and written through `phn_request_manager', so either): `complete'
%% finalizes the stored operation once with every node's results merged (where map mode
%% puts them, `phn_rm_tracker:view/1'), replies to its awaiter if any and removes it;
%% `expired' merges what arrived into the stored operation (await, await timeout and
%% cleanup then behave as map mode with those responses); `{error, _}' leaves it to
%% expire as in map mode; any other body is ignored. For an operation that is unknown or
%% was not routed to the C-node it returns `not_routed': the drop-in then handles the
%% message as any node's response (a cluster member sending `'$phn_cnode'' finishes
%% nothing). A `State' that is not a map raises `badarg' naming it.
-spec handle_report(phn_request_manager:state(), term(), term()) ->
          {noreply, phn_request_manager:state()} | not_routed.
handle_report(State, Ref, Body) ->
    ?CHECK_ARGS([{'State', map}, {'Ref', any}, {'Body', any}], [State, Ref, Body]),
    report(State, Ref, Body).

report(State, Ref, Body) ->
    case phn_request_manager:get(State, Ref) of
        Op when is_map(Op) ->
            case routed(Op) of
                true -> apply_report(State, Ref, Op, Body);
                false -> not_routed
            end;
        _Unknown ->
            not_routed
    end.

%% Composed towards the C-node (route/1): only then is a '$phn_cnode' report the C-node's.
routed(Op) ->
    Here = node(),
    lists:any(fun(#{originating_node := Origin}) -> Origin =/= Here andalso Origin =/= nil;
                 (_) -> false
              end, maps:get(sub_requests, Op)).

apply_report(State, Ref, Op, {complete, NodeResults}) ->
    case node_results(NodeResults) of
        true ->
            phn_rm_common:finalize_and_reply(merge(Op, NodeResults, []), State),
            {noreply, phn_request_manager:remove(State, Ref)};
        false ->
            {noreply, State}
    end;
apply_report(State, _Ref, Op, {expired, NodeResults, Missing}) ->
    case node_results(NodeResults) andalso node_list(Missing) of
        true -> {noreply, phn_request_manager:update(State, merge(Op, NodeResults, Missing))};
        false -> {noreply, State}
    end;
apply_report(State, _Ref, _Op, _ErrorOrOther) ->
    {noreply, State}.

merge(Op, NodeResults, Missing) ->
    %% view/1 reads an info() of phn_tracker: the same shape, from the C-node's report.
    phn_rm_tracker:view(#{ref => maps:get(transaction_id, Op, undefined), meta => Op,
                          collected => NodeResults, missing => Missing,
                          deadline => infinity}).

%% The C-node's shape, [{Node, Results}]; anything else (improper lists too) is refused.
node_results([]) -> true;
node_results([{N, R} | T]) when is_atom(N), is_list(R) -> node_results(T);
node_results(_) -> false.

node_list([]) -> true;
node_list([N | T]) when is_atom(N) -> node_list(T);
node_list(_) -> false.
