%% @doc Test double of `ProcessHub.Request.Handler.PidsRegisterRequest' (REFERENCE §3.3).
%% Carries the newer `durable' field too, so the split quirk (fresh struct per chunk)
%% is observable.
-module('Elixir.ProcessHub.Request.Handler.PidsRegisterRequest').

-export(['__struct__'/0, '__struct__'/1, new/1, new/2]).

'__struct__'() ->
    #{'__struct__' => ?MODULE, children_data => nil, durable => false}.

'__struct__'(Fields) ->
    phn_test_helpers:struct_with('__struct__'(), Fields).

new(ChildrenData) ->
    new(ChildrenData, []).

new(ChildrenData, Opts) ->
    ('__struct__'())#{children_data := ChildrenData,
                      durable := phn_rm_common:kw_get(durable, Opts, false)}.
