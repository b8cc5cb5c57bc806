// The same read as myItems without rules: it runs as the system user (run_as_system), so it must
// filter by owner itself. `npm run bench` compares the two to measure what rules cost.
exports = async function () {
  const items = context.services.get('mongodb-atlas').db('todo').collection('items');
  return items.find({ owner_id: context.user.id }, { title: 1, done: 1 }).sort({ _id: 1 }).limit(20).toArray();
};
