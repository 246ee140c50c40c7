%% @doc Test double of `ProcessHub.Request.Handler.PidsUnregisterRequest' (REFERENCE §3.4).
-module('Elixir.ProcessHub.Request.Handler.PidsUnregisterRequest').

-export(['__struct__'/0, '__struct__'/1, new/1, new/2]).

'__struct__'() ->
    #{'__struct__' => ?MODULE, removable_cid_nodes => nil, on_empty => churn}.

'__struct__'(Fields) ->
    phn_test_helpers:struct_with('__struct__'(), Fields).

new(CidNodes) ->
    new(CidNodes, []).

new(CidNodes, Opts) ->
    ('__struct__'())#{removable_cid_nodes := CidNodes,
                      on_empty := phn_rm_common:kw_get(on_empty, Opts, churn)}.
