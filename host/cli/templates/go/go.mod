module example.com/{{name}}

go 1.25.0

require robodev.dev/sdk/go v0.0.0

// robodev's Go SDK from robodev's checkout (until it is published).
replace robodev.dev/sdk/go => {{sdk}}/go
