package activity_test

import (
	"errors"
	"fmt"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
)

func ExampleDecode() {
	a, err := activity.Decode(fixture.Bytes("environment.push"))
	if err != nil {
		fmt.Println(err)
		return
	}
	head, _ := a.HeadCommit()
	took, _ := a.Duration()
	fmt.Println(a.Status(), a.EnvironmentName(), a.EnvironmentType(), a.Actor())
	fmt.Println(head.Short(), head.Subject(), took.Round(1e9))
	fmt.Println(a.LiveURLs())
	fmt.Println(a.ConsoleURL("https://console.platform.sh"))

	_, err = activity.Decode([]byte(`{"id":"a1","type":42,"project":"p1"}`))
	fmt.Println(errors.Is(err, activity.ErrNotActivity), err)
	// Output:
	// success main production Cloé Weber
	// 2bab04e Add cron 52s
	// [https://main-abcd123-abcdefgh1234567.eu-3.platformsh.site/]
	// https://console.platform.sh/projects/abcdefgh1234567/main/log/a1kz6ffxui7em
	// true not an activity: field "type": want a string, got number
}
