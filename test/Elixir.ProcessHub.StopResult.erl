%% @doc Test double of the `ProcessHub.StopResult' struct.
-module('Elixir.ProcessHub.StopResult').

-export(['__struct__'/0, '__struct__'/1]).

'__struct__'() ->
    #{'__struct__' => ?MODULE, status => nil, stopped => nil, errors => nil}.

'__struct__'(Fields) ->
    phn_test_helpers:struct_with('__struct__'(), Fields).
