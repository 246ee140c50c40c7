%% @doc Test double of the `ProcessHub.StartResult' struct.
-module('Elixir.ProcessHub.StartResult').

-export(['__struct__'/0, '__struct__'/1]).

'__struct__'() ->
    #{'__struct__' => ?MODULE, status => nil, started => nil, errors => nil,
      rollback => nil}.

'__struct__'(Fields) ->
    phn_test_helpers:struct_with('__struct__'(), Fields).
