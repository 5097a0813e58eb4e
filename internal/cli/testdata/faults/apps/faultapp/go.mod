module faultapp

go 1.25
