# The Mix face of process_hub_native: `{:process_hub_native, path: ...}` (or a git
# dependency) builds with plain `mix deps.get && mix compile`: the Erlang modules from
# erl_src/, the Elixir face from lib/, and the C (NIF and C-node) by the project-local
# compiler `compile.process_hub_native` into the Mix build directory's priv. Nothing
# comes from hex.pm. rebar3 users keep rebar.config; erl_src/process_hub_native.app.src
# stays the one description of the application (name, version, env...), read here.

defmodule ProcessHubNative.MixProject do
  use Mix.Project

  @app_src Path.join(__DIR__, "erl_src/process_hub_native.app.src")
  @external_resource @app_src
  {:ok, [{:application, :process_hub_native, app_src}]} = :file.consult(@app_src)
  @app_src_keys app_src

  def project do
    [
      app: :process_hub_native,
      version: to_string(@app_src_keys[:vsn]),
      description: to_string(@app_src_keys[:description]),
      elixir: "~> 1.14",
      erlc_paths: ["erl_src"],
      erlc_options: [:debug_info, :warnings_as_errors],
      elixirc_paths: ["lib"],
      compilers: Mix.compilers() ++ [:process_hub_native],
      # Top level only (a dependency builds in its parent's build path): keeps clear of
      # rebar3's _build/<profile>/ directories.
      build_path: "_build/mix",
      deps: [],
      docs: [main: "ProcessHubNative"]
    ]
  end

  def application do
    required = (@app_src_keys[:applications] || []) -- [:kernel, :stdlib]

    [
      mod: {ProcessHubNative.Application, []},
      registered: @app_src_keys[:registered] || [],
      env: @app_src_keys[:env] || [],
      extra_applications: Enum.uniq(required ++ [:logger])
    ]
  end
end
