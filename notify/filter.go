package notify

// DeliveryFilter selects deliveries of the outbox; zero values select all.
type DeliveryFilter struct {
	Status Status
	Limit  int // default and cap 500
}
