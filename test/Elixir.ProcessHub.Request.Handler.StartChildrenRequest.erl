%% @doc Test double of ProcessHub's `ProcessHub.Request.Handler.StartChildrenRequest'
%% (REFERENCE.md §3.1): struct, new/3, aggregate_results/1, post_process/3 (rollback
%% simplified: no supervisor/registry), response_type/0.
-module('Elixir.ProcessHub.Request.Handler.StartChildrenRequest').

-export(['__struct__'/0, '__struct__'/1, new/3, aggregate_results/1, post_process/3,
         response_type/0]).

-define(RM, 'Elixir.ProcessHub.Service.RequestManager').
-define(RESULT, 'Elixir.ProcessHub.StartResult').
-define(ROUTING_KEYS, [reply_to, transaction_id, hub_id, originating_node]).

'__struct__'() ->
    #{'__struct__' => ?MODULE,
      transaction_id => nil,
      request_signature => nil,
      hub_id => nil,
      originating_node => nil,
      reply_to => nil,
      node => nil,
      children => nil,
      results => nil,
      post_action => nil,
      options => [],
      status => pending}.

'__struct__'(Fields) ->
    phn_test_helpers:struct_with('__struct__'(), Fields).

new(#{'__struct__' := ?RM} = Op, TargetNode, Children) ->
    Opts = maps:get(options, Op),
    ('__struct__'())#{transaction_id := maps:get(transaction_id, Op),
                      request_signature := phn_rm_common:kw_get(request_signature, Opts, nil),
                      hub_id := maps:get(hub_id, Op),
                      originating_node := node(),
                      reply_to := phn_rm_common:kw_get(reply_to, Opts, nil),
                      node := TargetNode,
                      children := Children,
                      options := [KV || {K, _} = KV <- Opts,
                                        not lists:member(K, ?ROUTING_KEYS)],
                      status := dispatched}.

response_type() ->
    operation_response.

aggregate_results(Op) ->
    {Started, Errors} =
        lists:foldl(fun aggregate_sub_request/2, {[], []}, maps:get(sub_requests, Op)),
    (?RESULT:'__struct__'())#{status := case Errors of [] -> ok; _ -> error end,
                              started := Started,
                              errors := Errors,
                              rollback := false}.

aggregate_sub_request(#{results := nil, children := Children}, {Started, Errors}) ->
    {Started,
     lists:foldl(fun(Child, Acc) -> [{child_id(Child), {error, no_response}} | Acc] end,
                 Errors, Children)};
aggregate_sub_request(#{results := Results, node := Node}, Acc0) ->
    lists:foldl(fun({Cid, {ok, Pid}}, {S, E}) -> {[{Cid, [{Node, Pid}]} | S], E};
                   ({Cid, {error, Reason}}, {S, E}) -> {S, [{Cid, Reason} | E]};
                   ({Cid, Pid}, {S, E}) when is_pid(Pid) -> {[{Cid, [{Node, Pid}]} | S], E};
                   ({_Cid, Other}, _) -> error({case_clause, Other})
                end, Acc0, Results).

child_id(Child) when is_map(Child) -> maps:get(child_id, Child, nil);
child_id(_) -> nil.

post_process(Op, #{status := Status} = Result, _Hub) ->
    case phn_rm_common:kw_get(on_failure, maps:get(options, Op), continue) of
        rollback when Status =:= error -> Result#{rollback := true};
        _ -> Result
    end.
