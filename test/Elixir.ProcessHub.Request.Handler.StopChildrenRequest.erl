%% @doc Test double of ProcessHub's `ProcessHub.Request.Handler.StopChildrenRequest'
%% (REFERENCE.md §3.2).
-module('Elixir.ProcessHub.Request.Handler.StopChildrenRequest').

-export(['__struct__'/0, '__struct__'/1, new/3, aggregate_results/1, post_process/3,
         response_type/0]).

-define(RM, 'Elixir.ProcessHub.Service.RequestManager').
-define(RESULT, 'Elixir.ProcessHub.StopResult').
-define(ROUTING_KEYS, [reply_to, transaction_id, hub_id, originating_node]).

'__struct__'() ->
    #{'__struct__' => ?MODULE,
      transaction_id => nil,
      hub_id => nil,
      originating_node => nil,
      reply_to => nil,
      node => nil,
      children => nil,
      results => nil,
      options => [],
      status => pending}.

'__struct__'(Fields) ->
    phn_test_helpers:struct_with('__struct__'(), Fields).

new(#{'__struct__' := ?RM} = Op, TargetNode, Children) ->
    Opts = maps:get(options, Op),
    ('__struct__'())#{transaction_id := maps:get(transaction_id, Op),
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
    NotFound = phn_rm_common:kw_get(not_found_children, maps:get(options, Op), []),
    {Stopped, Errors0} =
        lists:foldl(fun aggregate_sub_request/2, {[], []}, maps:get(sub_requests, Op)),
    Errors = Errors0 ++ [{Cid, {error, not_found}} || Cid <- NotFound],
    (?RESULT:'__struct__'())#{status := case Errors of [] -> ok; _ -> error end,
                              stopped := Stopped,
                              errors := Errors}.

aggregate_sub_request(#{results := nil, children := Children}, {Stopped, Errors}) ->
    {Stopped, Errors ++ [{maps:get(child_id, C, nil), {error, no_response}} || C <- Children]};
aggregate_sub_request(#{results := Results, node := Node}, Acc0) ->
    lists:foldl(fun({Cid, ok}, {S, E}) -> {[{Cid, [Node]} | S], E};
                   ({Cid, {error, Reason}}, {S, E}) -> {S, [{Cid, Reason} | E]};
                   ({Cid, Other}, {S, E}) -> {S, [{Cid, Other} | E]}
                end, Acc0, Results).

post_process(_Op, Result, _Hub) ->
    Result.
