package sqlstore

import "database/sql"

// Store is Kumo's store: the shared DB (connections, the group-commit
// writer, the dialect, the settings) and one service per entity over it.
// Each service lives in the file named after its entity (ObjectService in
// object.go) and holds the caches of what it owns; the services a service
// calls are its fields, wired here.
type Store struct {
	*DB

	Apps          *AppService
	Tokens        *TokenService
	Things        *ThingService
	Users         *UserService
	Groups        *GroupService
	Objects       *ObjectService
	Buckets       *BucketService
	Bodies        *BodyService
	ACLs          *ACLService
	Installations *InstallationService
	Subscriptions *SubscriptionService
	Topics        *TopicService
	Messages      *MessageService
	PushConfigs   *PushConfigService
	Outbox        Outbox // a CursorOutbox or a LeaseOutbox (event.go)
	Queue         *PushQueue
	Phones        *PhoneQueue
	Ledger        *DeliveryLedger
	Onboardings   *OnboardingService
	Gateways      *GatewayService
	States        *StateService
	ThingTypes    *ThingTypeService
	Traits        *TraitService
	Commands      *CommandService
	Triggers      *TriggerService    // Thing-IF triggers (trigger.go)
	ServerCode    *ServerCodeService // server code: scapi (servercode.go)

	// server code: sched
	DevLogs   *DevLogService   // the developer log (devlog.go)
	Schedules *ScheduleService // schedule executions (schedule.go)
	Hooks     *HookService     // server code: hooks (hook.go): queued runs of server code
}

// New returns a store over read and write connection pools (which may be
// the same pool). Set its settings, call Open before use and Close after.
func New(read, write *sql.DB, d Dialect) *Store {
	db := newDB(read, write, d)
	s := &Store{
		DB:            db,
		Apps:          &AppService{db: db},
		Tokens:        newTokenService(db),
		Things:        &ThingService{db: db},
		Users:         &UserService{db: db},
		Groups:        &GroupService{db: db},
		Objects:       &ObjectService{db: db},
		Buckets:       &BucketService{db: db},
		Bodies:        &BodyService{db: db},
		ACLs:          newACLService(db),
		Installations: &InstallationService{db: db},
		Subscriptions: &SubscriptionService{db: db},
		Topics:        &TopicService{db: db},
		Messages:      &MessageService{db: db},
		PushConfigs:   &PushConfigService{db: db},
		Outbox:        newOutbox(db, d),
		Queue:         newPushQueue(db),
		Phones:        &PhoneQueue{db: db},
		Ledger:        &DeliveryLedger{db: db},
		Onboardings:   &OnboardingService{db: db},
		Gateways:      &GatewayService{db: db},
		States:        &StateService{db: db},
		ThingTypes:    &ThingTypeService{db: db},
		Traits:        &TraitService{db: db},
		Commands:      &CommandService{db: db},
		Triggers:      &TriggerService{db: db},
		ServerCode:    newServerCodeService(db), // server code: scapi
		DevLogs:       &DevLogService{db: db},   // server code: sched
		Schedules:     &ScheduleService{db: db}, // server code: sched
		Hooks:         newHookService(db),       // server code: hooks
	}
	s.Tokens.apps = s.Apps
	s.Things.apps, s.Things.tokens, s.Things.groups, s.Things.acls, s.Things.ledger = s.Apps, s.Tokens, s.Groups, s.ACLs, s.Ledger
	s.Users.apps, s.Users.tokens, s.Users.ledger = s.Apps, s.Tokens, s.Ledger
	s.Groups.users = s.Users
	s.Objects.acls = s.ACLs
	s.Buckets.acls = s.ACLs
	s.Bodies.acls = s.ACLs
	s.ACLs.things, s.ACLs.users, s.ACLs.groups, s.ACLs.topics = s.Things, s.Users, s.Groups, s.Topics
	s.Installations.things, s.Installations.users, s.Installations.ledger = s.Things, s.Users, s.Ledger
	s.Subscriptions.acls = s.ACLs
	s.Topics.acls = s.ACLs
	s.Messages.acls, s.Messages.topics = s.ACLs, s.Topics
	s.Queue.ledger = s.Ledger
	s.Onboardings.apps, s.Onboardings.things, s.Onboardings.tokens = s.Apps, s.Things, s.Tokens
	s.Gateways.apps, s.Gateways.things, s.Gateways.tokens = s.Apps, s.Things, s.Tokens
	s.Phones.topics, s.Phones.pushConfigs, s.Phones.ledger = s.Topics, s.PushConfigs, s.Ledger
	s.States.things, s.States.thingTypes = s.Things, s.ThingTypes
	s.ThingTypes.things = s.Things
	s.Commands.things, s.Commands.thingTypes = s.Things, s.ThingTypes
	s.Triggers.things, s.Triggers.commands = s.Things, s.Commands // Thing-IF triggers
	s.States.OnStateWritten(s.Triggers.stateWritten)              // state triggers fire in the state write
	// server code: hooks: the writes that fire hooks queue their runs
	s.Triggers.hooks, s.Objects.hooks, s.Bodies.hooks, s.Users.hooks, s.Groups.hooks = s.Hooks, s.Hooks, s.Hooks, s.Hooks, s.Hooks
	s.Things.hooks, s.Installations.hooks, s.Onboardings.hooks = s.Hooks, s.Hooks, s.Hooks
	s.Hooks.Configs = s.ServerCode // each app's current hooks (cached)
	return s
}

// Close stops the services' background work (buckets being indexed), then
// closes the DB: the writes already queued finish first.
func (s *Store) Close() error {
	s.Objects.stopIndexing()
	return s.DB.Close()
}
