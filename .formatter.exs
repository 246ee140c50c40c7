[
  inputs: ["{mix,.formatter}.exs", "lib/**/*.{ex,exs}"],
  line_length: 110
]
