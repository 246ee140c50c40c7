%% @doc A start handler for the C-node mode tests: ProcessHub's StartChildrenRequest (its
%% test double; the sub-requests are StartChildrenRequest structs, so they split as
%% usual) whose post_process, which runs once per finalize, records the operation's
%% TxRef and result in the ETS table `phn_ph_log' when it exists.
-module('Elixir.PhnTest.CountedStartRequest').

-export([new/3, aggregate_results/1, post_process/3, response_type/0]).

-define(START, 'Elixir.ProcessHub.Request.Handler.StartChildrenRequest').

new(Op, Node, Children) -> ?START:new(Op, Node, Children).

aggregate_results(Op) -> ?START:aggregate_results(Op).

response_type() -> operation_response.

post_process(Op, Result, Hub) ->
    case ets:whereis(phn_ph_log) of
        undefined -> ok;
        _ -> ets:insert(phn_ph_log, {{finalized, maps:get(transaction_id, Op),
                                      erlang:unique_integer([monotonic])}, Result})
    end,
    ?START:post_process(Op, Result, Hub).
